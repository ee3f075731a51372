"""A hostile machine: no writable numba cache directory anywhere the user would expect one; output that
PyBullet's C code prints behind Python's back."""

import os
import subprocess
import sys

import pytest

from .conftest import ENV_ID, LQR_CONFIG, launch_text, neuroctl_subprocess

KERNEL_RUN = """
import numpy as np
from neuroctl.network.jit import NUMBA_CACHE_DIR
from neuroctl.encoding import sanitize
last_good, out = np.zeros(2), np.zeros(2)
flagged = sanitize(np.array([np.nan, 5.0]), np.full(2, -1.0), np.full(2, 1.0), last_good, out)
print(NUMBA_CACHE_DIR)
print(flagged, out.tolist())
"""


def test_numba_cache_falls_back_to_a_temporary_directory(tmp_path):
    """HOME and XDG_CACHE_HOME read-only, NUMBA_CACHE_DIR not creatable: import and a kernel still work.

    Paths below a regular file cannot be created even by root, so the test holds for any user.
    """
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    (read_only / "neuroctl-numba").write_text("a file where the user cache directory would go")
    read_only.chmod(0o555)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "HOME": str(read_only), "XDG_CACHE_HOME": str(read_only),
           "NUMBA_CACHE_DIR": str(blocker / "numba"), "TMPDIR": str(temporary)}
    result = subprocess.run([sys.executable, "-c", KERNEL_RUN], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    cache_dir, output = result.stdout.splitlines()
    assert cache_dir.startswith(str(temporary / "neuroctl-numba-"))
    assert output == "1 [0.0, 1.0]"
    assert list((temporary / os.path.basename(cache_dir)).rglob("*.nbi"))  # the kernel was cached there
    read_only.chmod(0o755)


# ---- PyBullet's C banner ("pybullet build time: ...") never reaches the user's terminal or pipe ----

BANNER = "pybullet build time"
MAKE_AND_STEP = """
import gymnasium, neuroctl
env = gymnasium.make("neuroctl/CartPoleBalance-v0")
env.reset(seed=0)
env.step(env.action_space.sample())
env.unwrapped.linear_model()
env.close()
"""
C_OUTPUT = """
import ctypes, sys
from neuroctl.envs.bullet import c_output_silenced
libc = ctypes.CDLL(None)
libc.printf(b"C before\\n")
print("Python before")
with c_output_silenced():
    libc.printf(b"C inside\\n")
    libc.fprintf(ctypes.c_void_p.in_dll(libc, "stderr"), b"C stderr inside\\n")
    print("Python inside")
    print("Python stderr inside", file=sys.stderr)
libc.printf(b"C after\\n")
print("Python after", flush=True)
print("Python stderr after", file=sys.stderr)
"""


def python_c(code: str) -> subprocess.CompletedProcess:
    """`python -c CODE` with stdout and stderr pipes (block-buffered C stdout, as under a pipeline)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_making_and_stepping_an_env_prints_nothing():
    result = python_c(MAKE_AND_STEP)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")


def test_silenced_block_drops_c_and_python_output_and_keeps_what_came_before_and_after():
    """C stdout written inside the block must not surface from C's buffer at exit; C stdout written
    before the block must come out (flushed before fd 1 goes to /dev/null), in order."""
    result = python_c(C_OUTPUT)
    assert result.returncode == 0, result.stderr
    assert "inside" not in result.stdout + result.stderr
    assert sorted(result.stdout.splitlines()) == ["C after", "C before", "Python after", "Python before"]
    assert result.stdout.index("C before") < result.stdout.index("Python after")
    assert result.stderr == "Python stderr after\n"


def test_check_of_a_launch_file_prints_one_line_and_no_banner(tmp_path):
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, kwargs="{max_force_n: 8.0}"))
    result = neuroctl_subprocess("check", path)
    assert result.returncode == 0, result.stderr
    assert BANNER not in result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"ok: {path}: launch file ({ENV_ID}, lqr from {LQR_CONFIG})"]
    assert result.stderr == ""


@pytest.mark.parametrize("command", ["check", "launch"])
def test_error_found_after_the_env_exists_is_exactly_one_line(tmp_path, command):
    """task.cost_q is checked against the environment's observation: the env (and PyBullet) exist."""
    path = tmp_path / "launch.yaml"
    path.write_text(launch_text(LQR_CONFIG, extra="task: {cost_q: [1.0, 2.0]}\n"))
    result = neuroctl_subprocess(command, path, *(["--out", tmp_path / "out"] if command == "launch" else []))
    assert result.returncode == 2
    assert BANNER not in result.stdout + result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "task.cost_q" in result.stderr, result.stderr


def test_info_prints_no_pybullet_banner(tmp_path):
    result = neuroctl_subprocess("info", cwd=tmp_path)
    assert result.returncode == 0 and "pybullet build time" not in result.stdout + result.stderr
    assert result.stderr == "" and result.stdout.startswith("neuroctl ")
