"""The Ray executor: each trial a Ray task, on the cluster at `address` or on a local Ray started for
the sweep (`pip install -e '.[ray]'`).

A task carries its configuration's launch file and controller config as text (`PortableTrial`), so that
a worker on another machine needs neuroctl installed (the same version, and any environment module a
launch file names by `module:Id`), not the driver's files. A Ray worker process keeps the environment
and controller of the configuration it ran last, as a local worker does. Ray retries a task whose
worker died once (`max_retries=1`) and a task that raised once (`retry_exceptions=True`); a trial
that fails twice is recorded as failed with Ray's error (`attempts` 2; an ok line has no `attempts`:
Ray's retries are not visible to the task). The driver keeps each finished trial as it
arrives (a sweep appends it to its results file); on KeyboardInterrupt the pending tasks are cancelled and the
Ray started for the sweep is shut down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neuroctl.sweep.spec import Trial
from neuroctl.sweep.trials import PortableTrial, identity, run_portable

POLL_S = 0.5


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(f"--executor ray needs Ray: pip install -e '.[ray]' ({exc})") from None
    return ray


def run_ray(tasks: list[PortableTrial], run: Callable[[Trial], dict[str, Any]],
            keep: Callable[[dict[str, Any]], None], address: str | None, workers: int) -> None:
    """`run` each task's trial as a Ray task (module docstring), `keep` each line as it arrives."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(run_portable)
    by_ref = {remote.remote(task, run): task.trial for task in tasks}
    try:
        waiting = list(by_ref)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1, timeout=POLL_S)
            for ref in done:
                trial = by_ref[ref]
                try:
                    line = ray.get(ref)
                except Exception as exc:  # Ray's errors after its retry: the trial failed twice
                    line = {**identity(trial), "status": "failed", "attempts": 2,
                            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
                keep(line)
    except KeyboardInterrupt:
        for ref in by_ref:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()

