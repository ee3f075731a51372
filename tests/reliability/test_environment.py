"""A hostile machine: no writable numba cache directory anywhere the user would expect one."""

import os
import subprocess
import sys

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
