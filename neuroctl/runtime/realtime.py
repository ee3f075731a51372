"""Realtime settings of a paced run: how the loop waits, CPU affinity, SCHED_FIFO priority, locked memory,
rehearsal.

Each setting is applied when the process is permitted to, else left alone; `report()` says for each
what was asked, whether it was applied and, if not, why (one line), never raising. Everything is
undone when the run ends (the previous affinity and scheduling policy restored, memory unlocked), so
that an eval or bench process running several episodes is left as it was.

Waiting: `sleep` (the default) sleeps until `spin_s` before the release and busy-waits the rest
(`neuroctl.runtime.pacing.wait_until`); `spin` busy-waits the whole time to the next release. Spinning
keeps the core busy, which on this 2-core VM made short runs faster (cart-pole MPC at 1 kHz for 8 s:
controller p50 20-25 us against 31-38 us sleeping, 0 misses against 6-11) but long ones worse: at 1 kHz
for 60 s the arm's spiking MPC missed 1.9% of its deadlines spinning against 0.11% sleeping, nearly all
`stalled` (the host deschedules a vCPU that never idles). Under SCHED_FIFO a spinning loop also meets
the kernel's real-time throttling (sched_rt_runtime_us 950000 per 1000000: the loop is stopped for
~50 ms every second; 5.2% misses); the report says so when both are asked for.

Rehearsal (`rehearse`, on by default; the loop reports it beside these): the tick's control step is
run shortly before its release on the real state, which is then put back, so that the tick does not
start with its code and data cold after the wait. docs/BENCHMARKS.md has the figures.

Stolen time (`host_steal_s`): on a virtual machine the hypervisor may run other guests on the cores
this one's vCPUs think they have; Linux counts that as `steal` in /proc/stat. The loop reports how much
the run lost that way, so that a user can tell a machine that stalls from a loop that overruns (a
stolen stretch inside a tick reads as the thread's own CPU time, since the guest cannot see it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

MCL_CURRENT, MCL_FUTURE = 1, 2  # <sys/mman.h> on Linux


@dataclass(frozen=True)
class RealtimeSettings:
    """What a paced run asks of the operating system (all optional but `wait`)."""

    wait: Literal["sleep", "spin"] = "sleep"
    cpus: tuple[int, ...] | None = None
    """CPU affinity: the cores the process may run on; None leaves it."""
    fifo_priority: int | None = None
    """SCHED_FIFO priority 1-99 (needs CAP_SYS_NICE or an rtprio limit); None leaves the policy."""
    lock_memory: bool = False
    """mlockall(MCL_CURRENT | MCL_FUTURE): no page of the process is swapped or faulted in lazily."""
    rehearse: bool = True
    """Rehearse each tick's control step shortly before its release, on the real state, then put that
    state back (`neuroctl.runtime.loop.Rehearsal`: a compiled control stage, or a controller that declares
    its `rehearsal_arrays`), so that the tick starts with its code and data in the caches."""


PROC_STAT = "/proc/stat"


def host_steal_s() -> float | None:
    """The time the hypervisor has taken from this machine's vCPUs since boot, all of them together (the
    `steal` column of /proc/stat's `cpu` line), in seconds; None where it is not reported (no such file
    or column: not Linux, or a kernel without steal accounting)."""
    try:
        with open(PROC_STAT) as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def _error(exc: OSError) -> str:
    return f"{exc.strerror or exc} (errno {exc.errno})" if exc.errno else str(exc)


def _rt_throttling() -> str:
    """What the kernel's real-time throttling does to a spinning SCHED_FIFO loop, from /proc."""
    try:
        with open("/proc/sys/kernel/sched_rt_runtime_us") as runtime, open("/proc/sys/kernel/sched_rt_period_us") as period:
            runtime_us, period_us = int(runtime.read()), int(period.read())
    except (OSError, ValueError):
        return "spinning under SCHED_FIFO: the kernel may throttle real-time tasks that never sleep"
    if runtime_us < 0 or runtime_us >= period_us:
        return "spinning under SCHED_FIFO: real-time throttling is off (sched_rt_runtime_us)"
    return (f"spinning under SCHED_FIFO: the kernel stops real-time tasks that never sleep for "
            f"{(period_us - runtime_us) / 1000:g} ms every {period_us / 1000:g} ms (sched_rt_runtime_us); "
            f"use wait: sleep")


class AppliedRealtime:
    """The settings as applied to this process, and how to undo them (`restore`)."""

    def __init__(self, settings: RealtimeSettings) -> None:
        self.settings = settings
        self._report: dict[str, dict[str, Any]] = {"wait": {"requested": settings.wait, "applied": True}}
        self._undo: list = []
        self._affinity(settings.cpus)
        self._fifo(settings.fifo_priority)
        self._lock(settings.lock_memory)
        if settings.wait == "spin" and self._report["fifo_priority"]["applied"]:
            self._report["wait"]["detail"] = _rt_throttling()


    def report(self) -> dict[str, dict[str, Any]]:
        """Per setting: `requested`, `applied` (bool) and `detail` (why not, or what it changed)."""
        return {name: dict(entry) for name, entry in self._report.items()}

    def restore(self) -> None:
        for undo in reversed(self._undo):
            with contextlib.suppress(OSError):
                undo()
        self._undo.clear()

    def _set(self, name: str, requested: Any, applied: bool, detail: str) -> None:
        self._report[name] = {"requested": requested, "applied": applied, "detail": detail}

    def _affinity(self, cpus: tuple[int, ...] | None) -> None:
        if cpus is None:
            self._set("cpu_affinity", None, False, "not requested")
            return
        if not hasattr(os, "sched_setaffinity"):
            self._set("cpu_affinity", list(cpus), False, "not supported on this platform")
            return
        before = os.sched_getaffinity(0)
        missing = sorted(set(cpus) - before)
        if missing:
            self._set("cpu_affinity", list(cpus), False, f"CPUs {missing} are not available to this process "
                      f"(available: {sorted(before)})")
            return
        try:
            os.sched_setaffinity(0, cpus)
        except OSError as exc:
            self._set("cpu_affinity", list(cpus), False, _error(exc))
            return
        self._undo.append(lambda: os.sched_setaffinity(0, before))
        self._set("cpu_affinity", list(cpus), True, f"was {sorted(before)}")

    def _fifo(self, priority: int | None) -> None:
        if priority is None:
            self._set("fifo_priority", None, False, "not requested")
            return
        if not hasattr(os, "sched_setscheduler"):
            self._set("fifo_priority", priority, False, "not supported on this platform")
            return
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        except OSError as exc:
            self._set("fifo_priority", priority, False, f"{_error(exc)}: needs root, CAP_SYS_NICE or an "
                      f"rtprio limit (ulimit -r) of at least {priority}")
            return
        self._undo.append(lambda: os.sched_setscheduler(0, policy, param))
        self._set("fifo_priority", priority, True, "SCHED_FIFO")

    def _lock(self, lock: bool) -> None:
        if not lock:
            self._set("lock_memory", False, False, "not requested")
            return
        libc = _libc()
        if libc is None or not hasattr(libc, "mlockall"):
            self._set("lock_memory", True, False, "no mlockall on this platform")
            return
        if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
            errno = ctypes.get_errno()
            self._set("lock_memory", True, False, f"{os.strerror(errno)} (errno {errno}): needs root, "
                      f"CAP_IPC_LOCK or a memlock limit (ulimit -l) above the process size")
            return
        self._undo.append(libc.munlockall)
        self._set("lock_memory", True, True, "mlockall(MCL_CURRENT | MCL_FUTURE)")


@contextlib.contextmanager
def realtime_applied(settings: RealtimeSettings) -> Iterator[AppliedRealtime]:
    """Apply `settings` for the duration of the block, then undo them."""
    applied = AppliedRealtime(settings)
    try:
        yield applied
    finally:
        applied.restore()


def realtime_summary(report: dict[str, dict[str, Any]]) -> str:
    """One line for a terminal: each requested setting, applied or why not."""
    parts = [f"wait {report['wait']['requested']}"]
    for name, entry in report.items():
        if name == "wait" or entry["requested"] in (None, False):
            continue
        parts.append(f"{name} {entry['requested']}: " + ("applied" if entry["applied"] else f"NOT applied ({entry['detail']})"))
    return "; ".join(parts)
