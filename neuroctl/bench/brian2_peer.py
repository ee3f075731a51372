"""Brian2 on the kernel benchmark's network, one runner process per code-generation target.

The network goes to the runner as an .npz; the runner (`brian2_runner.py`, run by the Brian2 venv's
Python) builds and compiles it and answers each `sample` with Brian2's own time of its main loop.
BLAS and OpenMP are held to one thread, as in this process.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
from pathlib import Path

from neuroctl.bench.simulators import Unavailable
from neuroctl.bench.workload import KernelWorkload

RUNNER = Path(__file__).with_name("brian2_runner.py")
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

TARGET_NAMES = {
    "cython": "runtime, cython code generation",
    "numpy": "runtime, numpy code generation",
    "cpp_standalone": "cpp_standalone (compiled C++ binary, one execution per sample)",
}


class Brian2Simulator:
    peer = "brian2"

    def __init__(self, workload: KernelWorkload, python: Path, target: str, npz: Path, project_dir: Path,
                 timeout_s: float) -> None:
        self.label = f"brian2 {target}"
        self.target = TARGET_NAMES[target]
        self.steps = workload.counts.steps
        self.timeout_s = timeout_s
        project_dir.mkdir(parents=True, exist_ok=True)
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([str(python), str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._stderr, text=True, cwd=project_dir,
                                        env={**os.environ, **SINGLE_THREAD})
        try:
            reply = self._request({"op": "start", "npz": str(npz), "target": target,
                                   "directory": str(project_dir / target), "steps": self.steps,
                                   "warmup_steps": workload.counts.warmup_steps,
                                   "rate_steps": workload.counts.rate_steps})
        except Unavailable:
            self.close()
            raise
        self.build_s, self.compile_s, self.rate_hz = reply["build_s"], reply["compile_s"], reply["rate_hz"]
        self.versions = reply["versions"]

    def _request(self, request: dict) -> dict:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise Unavailable(f"the Brian2 runner exited: {self._stderr_tail()}") from None
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not ready:
            raise Unavailable(f"no answer from the Brian2 runner within {self.timeout_s:g} s "
                              f"({request['op']})")
        if not line:
            raise Unavailable(f"the Brian2 runner exited: {self._stderr_tail()}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise Unavailable(reply["error"])
        return reply

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def run(self) -> float:
        return self._request({"op": "sample"})["seconds"] / self.steps

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._stderr.close()
