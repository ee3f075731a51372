"""The numba cache directory cannot be planted by another local user.

numba unpickles the index files (`*.nbi`) it finds in its cache directory, so whoever controls that
directory runs code in our process. Each test runs a kernel in a fresh interpreter with a copy of
neuroctl/network/jit.py (so that its package `__pycache__` is ours to plant or block), HOME and
XDG_CACHE_HOME below a regular file (unusable even for root), NUMBA_CACHE_DIR unset unless the test sets
it and TMPDIR in the test's directory. A planted directory holds a real index file at the exact path numba
would read, whose unpickling creates a marker directory: the `trusted` cases show that numba does read it
when the directory passes the checks, the others that it is then never read (the marker never appears).

The tests chown to uid 12345 and so need root (they are skipped otherwise).
"""

import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numba.core.caching
import pytest

import neuroctl.network.jit

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="planting directories of another user needs root")

JIT_SOURCE = Path(neuroctl.network.jit.__file__)
OTHER_UID = 12345
VICTIM = """\
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("jit_under_test", os.path.join(os.path.dirname(__file__), "jit.py"))
jit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jit)


@jit.cached_njit
def add_one(x):
    return x + 1


print(jit.NUMBA_CACHE_DIR)
print(add_one(41))
"""
_LINE = next(code.co_firstlineno for code in compile(VICTIM, "victim.py", "exec").co_consts
             if getattr(code, "co_name", None) == "add_one")  # numba names the index after it
INDEX_NAME = f"victim.add_one-{_LINE}.py{sys.version_info[0]}{sys.version_info[1]}{getattr(sys, 'abiflags', '')}.nbi"


class _Payload:
    """Unpickling it creates the directory `marker`: it stands for any code an attacker would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.makedirs, (self.marker, 0o777, True)  # exist_ok: numba reads the index twice


class Machine:
    """A package copy, a blocked home, a temporary directory and a marker, all under the test's tmp_path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.package = root / "site" / "network"
        self.package.mkdir(parents=True)
        shutil.copy(JIT_SOURCE, self.package / "jit.py")
        (self.package / "victim.py").write_text(VICTIM)
        self.pycache = self.package / "__pycache__"
        self.pycache.write_text("a file: the package's own cache directory cannot be created")
        blocked = root / "blocked"
        blocked.write_text("paths below a regular file cannot be created, even by root")
        self.tmp = root / "tmp"
        self.tmp.mkdir(mode=0o700)
        self.predictable = self.tmp / f"neuroctl-numba-{os.getuid()}"
        self.marker = root / "marker"
        self.env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
        self.env.update(HOME=str(blocked / "home"), XDG_CACHE_HOME=str(blocked / "cache"), TMPDIR=str(self.tmp),
                        PYTHONDONTWRITEBYTECODE="1")
        self.payload = pickle.dumps(_Payload(self.marker))

    def index_paths(self, directory: Path) -> list[Path]:
        """Where numba reads the kernel's index with NUMBA_CACHE_DIR=directory, and in a package __pycache__."""
        subpath = numba.core.caching._CacheLocator.get_suitable_cache_subpath(str(self.package / "victim.py"))
        return [directory / subpath / INDEX_NAME, directory / INDEX_NAME]

    def plant(self, directory: Path, *, uid: int | None = None, mode: int = 0o755) -> Path:
        """A cache directory with the malicious index files, owned by `uid` (default: us), with `mode`."""
        directory.mkdir(parents=True, exist_ok=True)
        for index in self.index_paths(directory):
            index.parent.mkdir(parents=True, exist_ok=True)
            index.write_bytes(self.payload)
        for path in [directory, *directory.rglob("*")]:
            if uid is not None:
                os.chown(path, uid, uid)
        directory.chmod(mode)
        return directory

    def run(self, **env: str) -> tuple[str, str]:
        """Run the kernel; (the cache directory jit chose, stderr). The kernel's result is checked."""
        result = subprocess.run([sys.executable, str(self.package / "victim.py")], capture_output=True, text=True,
                                env={**self.env, **env}, timeout=120)
        assert result.returncode == 0, result.stderr
        chosen, answer = result.stdout.splitlines()
        assert answer == "42"
        return chosen, result.stderr

    def assert_private_and_used(self, chosen: str) -> None:
        info = os.lstat(chosen)
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
        assert stat.S_IMODE(info.st_mode) & 0o077 == 0, oct(info.st_mode)
        assert list(Path(chosen).rglob("*.nbi"))  # the kernel was cached there

    def assert_untouched(self, planted: Path) -> None:
        assert not self.marker.exists(), "the planted index file was unpickled"
        for index in self.index_paths(planted):
            assert index.read_bytes() == self.payload


@pytest.fixture
def machine(tmp_path):
    return Machine(tmp_path)


def _plant_predictable(machine: Machine, case: str) -> Path:
    if case == "owned by another user":
        return machine.plant(machine.predictable, uid=OTHER_UID)
    if case == "ours, writable by others":
        return machine.plant(machine.predictable, mode=0o777)
    if case == "ours, writable by the group":
        return machine.plant(machine.predictable, mode=0o770)
    target = machine.plant(machine.root / "elsewhere", **({"uid": OTHER_UID} if "another" in case else {"mode": 0o700}))
    machine.predictable.symlink_to(target)
    return target


@pytest.mark.parametrize("case", ["owned by another user", "ours, writable by others", "ours, writable by the group",
                                  "symlink to another user's directory", "symlink to our own private directory"])
def test_planted_directory_at_the_predictable_temporary_path_is_not_used(machine, case):
    planted = _plant_predictable(machine, case)
    chosen, stderr = machine.run()
    machine.assert_untouched(planted)
    assert Path(chosen).parent == machine.tmp and Path(chosen).name.startswith("neuroctl-numba-")
    assert Path(chosen) not in (machine.predictable, planted)
    machine.assert_private_and_used(chosen)
    assert "RuntimeWarning: numba cache directory not used" in stderr and str(machine.predictable) in stderr


def test_private_directory_at_the_predictable_path_is_reused_and_really_read(machine):
    """The control: a directory that passes the checks is used, and numba does unpickle its index files."""
    machine.plant(machine.predictable, mode=0o700)
    chosen, stderr = machine.run()
    assert chosen == str(machine.predictable)
    assert machine.marker.is_dir()  # the planted index is one numba reads: the other tests are meaningful
    assert "RuntimeWarning" not in stderr


def test_created_predictable_directory_has_mode_0700(machine):
    chosen, stderr = machine.run()
    assert chosen == str(machine.predictable) and not stderr
    machine.assert_private_and_used(chosen)


@pytest.mark.parametrize("uid, mode", [(OTHER_UID, 0o755), (None, 0o777)])
def test_package_pycache_of_another_user_or_writable_by_others_is_not_used(machine, uid, mode):
    machine.pycache.unlink()
    planted = machine.plant(machine.pycache, uid=uid, mode=mode)
    chosen, _ = machine.run()
    machine.assert_untouched(planted)
    assert chosen == str(machine.predictable)
    machine.assert_private_and_used(chosen)


def test_package_pycache_of_ours_is_used(machine):
    machine.pycache.unlink()
    machine.plant(machine.pycache)
    chosen, _ = machine.run()
    assert chosen == str(machine.pycache) and machine.marker.is_dir()


@pytest.mark.parametrize("uid, mode", [(OTHER_UID, 0o700), (None, 0o777), (None, 0o1777)])
def test_configured_numba_cache_dir_of_another_user_or_writable_by_others_is_refused(machine, uid, mode):
    planted = machine.plant(machine.root / "configured", uid=uid, mode=mode)
    chosen, stderr = machine.run(NUMBA_CACHE_DIR=str(planted))
    machine.assert_untouched(planted)
    assert chosen == str(machine.predictable)
    machine.assert_private_and_used(chosen)
    assert "RuntimeWarning: numba cache directory not used" in stderr and str(planted) in stderr


def test_configured_numba_cache_dir_of_ours_is_used_and_symlinks_in_it_resolved(machine):
    target = machine.plant(machine.root / "configured", mode=0o700)
    (machine.root / "link").symlink_to(target)
    chosen, stderr = machine.run(NUMBA_CACHE_DIR=str(machine.root / "link"))
    assert chosen == str(target) and machine.marker.is_dir() and not stderr


def test_configured_numba_cache_dir_below_a_directory_of_another_user_is_refused(machine):
    parent = machine.root / "theirs"
    parent.mkdir()
    planted = machine.plant(parent / "cache", mode=0o700)  # ours, but they can rename or replace it
    os.chown(parent, OTHER_UID, OTHER_UID)
    chosen, stderr = machine.run(NUMBA_CACHE_DIR=str(planted))
    machine.assert_untouched(planted)
    assert chosen == str(machine.predictable)
    assert f"{parent} is owned by uid {OTHER_UID}" in stderr


def test_user_cache_directory_of_another_user_is_not_used(machine):
    xdg = machine.root / "xdg"
    xdg.mkdir(mode=0o700)
    planted = machine.plant(xdg / "neuroctl-numba", uid=OTHER_UID)
    chosen, stderr = machine.run(XDG_CACHE_HOME=str(xdg))
    machine.assert_untouched(planted)
    assert chosen == str(machine.predictable)
    assert str(planted) in stderr


@pytest.mark.parametrize("owner, mode", [(None, 0o777), (OTHER_UID, 0o755)])
def test_unsafe_temporary_directory_disables_the_cache(machine, owner, mode):
    """TMPDIR writable by others without the sticky bit, or owned by another user: even a fresh mkdtemp there
    could be renamed and replaced, so kernels are compiled and not cached."""
    planted = machine.plant(machine.predictable, mode=0o700)  # would pass on its own
    machine.tmp.chmod(mode)
    if owner is not None:
        os.chown(machine.tmp, owner, owner)
    chosen, stderr = machine.run()
    machine.assert_untouched(planted)
    assert chosen == "None"
    assert sorted(path.name for path in machine.tmp.iterdir()) == [planted.name]  # no fresh directory left behind
    assert "using no cache" in stderr


def test_sticky_world_writable_temporary_directory_is_fine(machine):
    machine.tmp.chmod(0o1777)  # like /tmp
    chosen, stderr = machine.run()
    assert chosen == str(machine.predictable) and not stderr
    machine.assert_private_and_used(chosen)
