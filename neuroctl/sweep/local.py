"""The local executor: one worker process per core, each fed one trial at a time.

A pool runs one task function on its trials: `run_trial` for a sweep, `run_eval_episode` for
`neuroctl eval --workers`. The dispatcher knows which trials every worker holds (the one it runs and one queued behind it, so that
a worker never waits for the dispatcher between trials), so that:

- a worker is given the next trial of the configuration it ran last when one is left (its environment
  and controller are reused: `neuroctl.sweep.trials.run_trial`);
- a trial whose worker dies (killed, out of memory, a crash in a C extension) or that raises is retried
  once, on another worker when there is one, and recorded as failed with its error after a second
  failure; a dead worker is replaced and the sweep goes on;
- every finished trial is appended to the results file by the dispatcher the moment it arrives.

Workers ignore SIGINT: Ctrl-C reaches the dispatcher, which stops the workers (`stop`) and keeps every
trial already appended. Workers are started with the `spawn` method (no state inherited from the
dispatcher's PyBullet or numba).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import queue
import signal
import sys
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from neuroctl.sweep.spec import Trial
from neuroctl.sweep.trials import identity, run_trial

MAX_ATTEMPTS = 2
POLL_S = 0.05
IN_FLIGHT = 2
"""Trials a worker holds at once: the one it runs, and the next."""


def _work(tasks: Any, results: Any, extra_paths: list[str], task: Callable[[Trial], dict[str, Any]]) -> None:
    """A worker's loop: run the trials it is sent, send back each line (a pipe: `send` has written the
    line when it returns, so a worker that dies right after loses nothing it finished)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.path.extend(p for p in extra_paths if p not in sys.path)
    while True:
        trial = tasks.get()
        if trial is None:
            return
        try:
            results.send((trial.key, task(trial), None))
        except Exception as exc:  # a trial may fail in any way; the dispatcher records it
            results.send((trial.key, None, f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, context: Any, extra_paths: list[str], task: Callable[[Trial], dict[str, Any]]) -> None:
        self.tasks = context.Queue()
        self.results, sending_end = context.Pipe(duplex=False)
        self.process = context.Process(target=_work, args=(self.tasks, sending_end, extra_paths, task), daemon=True)
        self.process.start()
        sending_end.close()  # the worker holds it: the dispatcher's end sees EOF when the worker dies
        self.trials: deque[Trial] = deque()  # in the order the worker runs them
        self.last_config: str | None = None


class LocalPool:
    """`workers` worker processes, started at once (they import neuroctl while the caller validates the
    sweep); `run` dispatches trials to them; `stop` ends them. A context manager."""

    def __init__(self, workers: int, extra_paths: list[str] | None = None,
                 task: Callable[[Trial], dict[str, Any]] = run_trial) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.paths = list(extra_paths or [])
        self.task = task
        self.workers = [_Worker(self.context, self.paths, task) for _ in range(max(1, workers))]

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop(self.workers)

    def run(self, trials: list[Trial], keep: Callable[[dict[str, Any]], None],
            on_trial: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Run `trials`, handing each finished (or finally failed) trial's line to `keep` (the sweep
        appends it to trials.jsonl) as it arrives; `on_trial(line)` after each. KeyboardInterrupt
        propagates (stop the pool after it)."""
        context, paths, pool = self.context, self.paths, self.workers
        pending: OrderedDict[str, deque[Trial]] = OrderedDict()
        for trial in trials:
            pending.setdefault(trial.config_id, deque()).append(trial)
        attempts: dict[tuple[str, int], int] = {}
        failed_on: dict[tuple[str, int], int] = {}
        remaining = len(trials)

        def finish(trial: Trial, line: dict[str, Any]) -> None:
            nonlocal remaining
            line["attempts"] = attempts[trial.key]
            keep(line)
            remaining -= 1
            if on_trial is not None:
                on_trial(line)

        def failure(worker_index: int, trial: Trial, error: str) -> None:
            if attempts[trial.key] >= MAX_ATTEMPTS:
                finish(trial, {**identity(trial), "status": "failed", "error": error})
            else:
                failed_on[trial.key] = worker_index
                pending.setdefault(trial.config_id, deque()).appendleft(trial)

        def receive(index: int, worker: _Worker) -> bool:
            """Take one line the worker sent (for its oldest trial); False at EOF (it died)."""
            try:
                _, line, error = worker.results.recv()
            except (EOFError, OSError):
                return False
            trial = worker.trials.popleft()
            if error is None:
                finish(trial, line)
            else:
                failure(index, trial, error)
            return True

        while remaining:
            for index, worker in enumerate(pool):
                while len(worker.trials) < IN_FLIGHT and pending:
                    others = {w.last_config for w in pool if w is not worker}
                    trial = _next_for(pending, worker.last_config, others, index, failed_on, len(pool))
                    if trial is None:
                        break
                    attempts[trial.key] = attempts.get(trial.key, 0) + 1
                    worker.trials.append(trial)
                    worker.last_config = trial.config_id
                    worker.tasks.put(trial)
            ready = multiprocessing.connection.wait([w.results for w in pool if w.trials], timeout=POLL_S)
            for index, worker in enumerate(pool):
                if worker.results in ready:
                    receive(index, worker)
            for index, worker in enumerate(pool):
                if worker.trials and not worker.process.is_alive():
                    while worker.trials and worker.results.poll() and receive(index, worker):
                        pass  # the lines it sent before it died
                    worker.process.join()
                    code = worker.process.exitcode
                    worker.results.close()
                    pool[index] = _Worker(context, paths, self.task)
                    if not worker.trials:
                        continue
                    running, *queued = worker.trials
                    for trial in reversed(queued):  # never started: back to the front, no attempt spent
                        attempts[trial.key] -= 1
                        pending.setdefault(trial.config_id, deque()).appendleft(trial)
                    failure(index, running, f"its worker process died (exit code {code})")


def _next_for(pending: OrderedDict[str, deque[Trial]], last_config: str | None, others: set[str | None],
              index: int, failed_on: dict[tuple[str, int], int], n_workers: int) -> Trial | None:
    """The next trial for worker `index`: of the configuration it ran last if any is left, else of one no
    other worker is on (so that each configuration is built by as few workers as possible), else any;
    never the retry of a trial that failed on this worker while there are other workers."""
    order = ([last_config] if last_config in pending else []) + \
        [c for c in pending if c != last_config and c not in others] + \
        [c for c in pending if c != last_config and c in others]
    for config in order:
        queued = pending[config]
        for position, trial in enumerate(queued):
            if n_workers > 1 and failed_on.get(trial.key) == index:
                continue
            del queued[position]
            if not queued:
                del pending[config]
            return trial
    return None


def stop(pool: list[_Worker]) -> None:
    """Ask every worker to stop, then terminate the ones that do not within a second."""
    for worker in pool:
        if worker.process.is_alive():
            try:
                worker.tasks.put_nowait(None)
            except (ValueError, OSError, queue.Full):
                pass
    for worker in pool:
        worker.process.join(timeout=0.0 if worker.trials else 1.0)
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(timeout=5.0)
