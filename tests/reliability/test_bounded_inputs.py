"""Inputs that used to exhaust memory, pass silently or end in a traceback (issue 9, classes 2, 5, 8, 9, 10):
alias bombs, duplicate keys, paths the system refuses, ids gymnasium registers but cannot build,
integers beyond int64, seeds past 2**32 - 1. Each ends with exit code 2 and one line naming the key."""

import resource
import subprocess
import sys
import time

import pytest

from neuroctl.cli import main
from neuroctl.config import MAX_MESSAGE_CHARS, ConfigError, load_yaml, shown

from .conftest import LQR_CONFIG, launch_text, neuroctl_subprocess


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """Anchors a0..a{levels-1}: each a list of `width` aliases of the one before (width**levels leaves)."""
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines)


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def bomb_in(key: str) -> tuple[str, str]:
    """(launch file, controller config) with a 1 KB alias bomb as the value of `key` (anchors first)."""
    bomb = alias_bomb() + "\n"
    launch, controller = launch_text("c.yaml"), "kind: lqr\nq: [1, 1, 1, 1]\n"
    if key == "controller":
        launch = bomb + launch.replace("controller: c.yaml", "controller: *a8")
    elif key == "q":
        controller = "kind: lqr\n" + bomb + "q: *a8\n"
    else:
        launch = bomb + launch + "task: {cost_q: *a8}\n"
    return launch, controller


BOMB_CASES = {"controller": "launch.yaml", "q": "c.yaml", "task.cost_q": "launch.yaml"}


@pytest.mark.parametrize("key", list(BOMB_CASES))
def test_an_alias_bomb_is_refused_under_a_memory_cap(tmp_path, key):
    """9 levels of 10 aliases (a billion leaves, 1 KB of YAML) in any key, with the address space capped
    at 2 GiB: refused in one line, quickly, without a MemoryError."""
    launch, controller = bomb_in(key)
    assert len(launch) < 2000 and len(controller) < 2000
    (tmp_path / "launch.yaml").write_text(launch)
    (tmp_path / "c.yaml").write_text(controller)

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "neuroctl", "check", str(tmp_path / "launch.yaml")],
                            capture_output=True, text=True, timeout=120, preexec_fn=cap_memory)
    assert time.monotonic() - started < 60
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{BOMB_CASES[key]}: a5: document too large: more than 1000000 values once its aliases are expanded" \
        in result.stderr and "MemoryError" not in result.stderr


def test_the_expansion_bound_counts_shared_values_without_expanding_them(tmp_path):
    """Just under the bound (10**5 leaves through 5 levels of aliases) loads; one level more is refused."""
    path = tmp_path / "c.yaml"
    path.write_text(alias_bomb(levels=5) + "\n")
    assert len(load_yaml(path)["a4"]) == 10
    path.write_text(alias_bomb(levels=6) + "\n")
    with pytest.raises(ConfigError, match="document too large"):
        load_yaml(path)


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: lqr\nq: &q [1, *q]\n")
    with pytest.raises(ConfigError, match=r"c.yaml: q\[1\]: recursive alias"):
        load_yaml(path)


def test_an_error_quotes_a_shortened_value(tmp_path, capsys):
    """A wrong value of 10,000 items (some 30,000 characters of YAML) is quoted in a few dozen characters,
    never in full."""
    nested = [[list(range(10))] * 100] * 10
    (tmp_path / "c.yaml").write_text(f"kind: lqr\nq: {nested}\n")
    err = one_line_error(capsys, ["check", str(tmp_path / "c.yaml")])
    assert "q[0]: expected a number, got list [[0, 1, 2, " in err and len(err) < 300


def test_shown_is_bounded_for_any_value():
    nested = [[list(range(1000))] * 1000] * 1000
    assert len(shown(nested)) < 100 and len(shown("x" * 10**6)) < 100 and len(shown(10**5000)) < 100
    assert len(str(ConfigError("f.yaml", "k", "y" * 10**5))) <= 2 * MAX_MESSAGE_CHARS


@pytest.mark.parametrize("launch, controller, expected", [
    (launch_text(LQR_CONFIG) + f"controller: {LQR_CONFIG}\n", None,
     "launch.yaml: controller: duplicate key (lines 4 and 7)"),
    (launch_text(LQR_CONFIG, run="\n  seed: 1\n  duration_s: 0.5\n  seed: 2"), None,
     "launch.yaml: run.seed: duplicate key (lines 6 and 8)"),
    (launch_text("c.yaml"), "kind: lqr\nq: [1, 1, 1, 1]\nkind: mpc_exact\n", "c.yaml: kind: duplicate key (lines 1 and 3)"),
    (launch_text("c.yaml"), "kind: lqr\nq: [1, 1, 1, 1]\nr: [1]\nr: [2]\n", "c.yaml: r: duplicate key (lines 3 and 4)"),
])
def test_duplicate_keys_are_refused_naming_both_lines(tmp_path, capsys, launch, controller, expected):
    (tmp_path / "launch.yaml").write_text(launch)
    if controller is not None:
        (tmp_path / "c.yaml").write_text(controller)
    assert expected in one_line_error(capsys, ["check", str(tmp_path / "launch.yaml")])


def test_merge_keys_are_not_duplicates(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("base: &base {kind: lqr, r: [1]}\nconfig:\n  <<: *base\n  r: [2]\n")
    assert load_yaml(path)["config"] == {"kind": "lqr", "r": [2]}


@pytest.mark.parametrize("controller, expected", [
    ("loop.yaml", "controller config '{tmp}/loop.yaml': too many levels of symbolic links"),
    ('"a\\0b.yaml"', "controller config '{tmp}/a\\x00b.yaml': the path contains a NUL byte"),
    ('"a\\x01b.yaml"', "controller config '{tmp}/a\\x01b.yaml': no such file"),
    ("x" * 300 + ".yaml", "file name too long"),
    ("missing/c.yaml", "no such file"),
])
def test_controller_paths_the_system_refuses(tmp_path, capsys, controller, expected):
    """(YAML double quotes: "\\0" is a NUL character, "\\x01" a control character.)"""
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "launch.yaml").write_text(launch_text(controller))
    err = one_line_error(capsys, ["check", str(tmp_path / "launch.yaml")])
    assert "launch.yaml: controller: " in err and expected.format(tmp=tmp_path) in err, err


@pytest.mark.parametrize("argv_tail, expected", [
    (["--controller", "{tmp}/loop.yaml"], "--controller: controller config '{tmp}/loop.yaml': too many levels"),
    (["--controller", "{tmp}/" + "y" * 256], "file name too long"),
])
def test_controller_override_paths_the_system_refuses(tmp_path, capsys, argv_tail, expected):
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "launch.yaml").write_text(launch_text(LQR_CONFIG))
    argv = ["launch", str(tmp_path / "launch.yaml")] + [a.format(tmp=tmp_path) for a in argv_tail]
    assert expected.format(tmp=tmp_path) in one_line_error(capsys, argv)


@pytest.mark.parametrize("path, expected", [("/dev/zero", "not a regular file"), ("/proc/self", "not a regular file")])
def test_config_files_that_are_not_regular_files(capsys, path, expected):
    assert f"{path}: {expected}" in one_line_error(capsys, ["check", path])


def test_a_fifo_as_config_does_not_block(tmp_path, capsys):
    import os
    os.mkfifo(tmp_path / "fifo.yaml")
    assert "fifo.yaml: not a regular file" in one_line_error(capsys, ["check", str(tmp_path / "fifo.yaml")])


@pytest.mark.parametrize("env_id, expected", [
    ("Ant-v2", "env.id: 'Ant-v2' is registered but cannot be built here: The mujoco v2 and v3"),
    ("Humanoid-v3", "env.id: 'Humanoid-v3' is registered but cannot be built here"),
    ("CartPole-v0", "env.id: 'CartPole-v0' cannot be launched: it lacks 1-D Box"),  # deprecated: no warning
])
def test_registered_ids_that_cannot_be_built_or_launched(tmp_path, env_id, expected):
    """In a fresh process, so that gymnasium's own warnings would show: one line on stderr, nothing on stdout."""
    (tmp_path / "launch.yaml").write_text(launch_text(LQR_CONFIG).replace("neuroctl/CartPoleBalance-v0", env_id))
    result = neuroctl_subprocess("check", tmp_path / "launch.yaml", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("config, expected", [
    ("kind: mpc_exact\nmax_iterations: 18446744073709551616\n",
     "c.yaml: max_iterations: expected an integer in [-2**63, 2**63), got 18446744073709551616"),
    ("kind: mpc_exact\nhorizon: -9223372036854775809\n", "c.yaml: horizon: expected an integer in [-2**63"),
    ("kind: spiking_state_feedback\npopulation: {seed: 18446744073709551616}\n", "population.seed: expected an integer"),
])
def test_integers_beyond_int64_are_refused_by_check(tmp_path, capsys, config, expected):
    (tmp_path / "c.yaml").write_text(config)
    assert expected in one_line_error(capsys, ["check", str(tmp_path / "c.yaml")])


def test_a_suite_kind_that_is_a_list(tmp_path, capsys):
    (tmp_path / "suite.yaml").write_text("kind: [kernel]\n")
    err = one_line_error(capsys, ["bench", str(tmp_path / "suite.yaml"), "--out", str(tmp_path / "out")])
    assert "suite.yaml: kind: unknown suite kind ['kernel']; expected one of: kernel, controllers" in err


@pytest.mark.parametrize("first, count", [(4294967295, 3), (4294967290, 7), (0, 2**33)])
def test_eval_seeds_past_the_last_seed_are_refused_before_any_episode(tmp_path, capsys, first, count):
    (tmp_path / "launch.yaml").write_text(launch_text(LQR_CONFIG))
    err = one_line_error(capsys, ["eval", str(tmp_path / "launch.yaml"), "--first-seed", str(first),
                                  "--seeds", str(count), "--out", str(tmp_path / "out")])
    assert f"error: --seeds: {count} seeds from --first-seed {first} end at seed {first + count - 1}" in err
    assert not (tmp_path / "out").exists()
