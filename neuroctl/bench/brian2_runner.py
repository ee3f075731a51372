"""Brian2 side of the kernel benchmark: runs inside the Brian2 venv, never imports neuroctl.

Started as `python brian2_runner.py` by `neuroctl.bench.brian2_peer`. It reads JSON requests, one
per line, on stdin and answers each with one JSON line on the original stdout; everything Brian2 or
the compiler print goes to stderr (stdout is redirected there so that `make` cannot corrupt the replies).

Requests:

- `{"op": "start", "npz": PATH, "target": "cython"|"numpy"|"cpp_standalone", "directory": PATH,
  "warmup_steps": N, "rate_steps": N, "steps": N}`: build the network in the .npz (keys `pre`, `post`,
  `impulse`, `bias`, `v0`, `dt_s`, `tau_rc_s`, `tau_ref_s`, `tau_syn_s`), compile it, run the warm-up
  and count the spikes of `rate_steps` steps. Reply: build_s, compile_s, rate_hz, versions.
- `{"op": "sample"}`: run `steps` steps; reply `seconds`, Brian2's own time of its main loop (set up
  and code generation are excluded; for cpp_standalone one execution of the compiled binary, which
  repeats the warm-up and rate runs untimed before the timed run).
- `{"op": "quit"}`.

The model is neuroctl's LIF: tau_rc dv/dt = bias + I - v (held at 0 for tau_ref after a spike at v > 1,
reset to 0), dI/dt = -I / tau_syn, a spike adds `impulse` = w (1 - exp(-dt / tau_syn)) / dt to I_post.
"""

import json
import os
import platform
import sys
import time


def _versions():
    import brian2
    import numpy

    versions = {"brian2": brian2.__version__, "numpy": numpy.__version__, "python": platform.python_version()}
    try:
        import Cython

        versions["cython"] = Cython.__version__
    except ImportError:
        versions["cython"] = None
    return versions


class Runner:
    """One network on one code-generation target."""

    def start(self, request):
        import brian2 as b2
        import numpy as np

        data = np.load(request["npz"])
        target = request["target"]
        self.standalone = target == "cpp_standalone"
        if self.standalone:
            b2.set_device("cpp_standalone", directory=request["directory"], build_on_run=False)
        else:
            b2.prefs.codegen.target = target
        dt = float(data["dt_s"])
        b2.defaultclock.dt = dt * b2.second
        started = time.perf_counter()
        namespace = {"tau_rc": float(data["tau_rc_s"]) * b2.second, "tau_syn": float(data["tau_syn_s"]) * b2.second}
        group = b2.NeuronGroup(
            data["bias"].size,
            "dv/dt = (bias + I - v) / tau_rc : 1 (unless refractory)\n"
            "dI/dt = -I / tau_syn : 1\n"
            "bias : 1 (constant)",
            threshold="v > 1", reset="v = 0", refractory=float(data["tau_ref_s"]) * b2.second,
            method="exact", namespace=namespace,
        )
        group.v = data["v0"]
        group.bias = data["bias"]
        synapses = b2.Synapses(group, group, "w : 1 (constant)", on_pre="I_post += w")
        synapses.connect(i=data["pre"], j=data["post"])
        synapses.w = data["impulse"]
        self.monitor = b2.SpikeMonitor(group, record=False)
        self.network = b2.Network(group, synapses, self.monitor)
        build_s = time.perf_counter() - started

        self.steps_duration = request["steps"] * dt * b2.second
        rate_duration = request["rate_steps"] * dt * b2.second
        self.monitor.active = False
        started = time.perf_counter()
        if self.standalone:
            self.network.run(request["warmup_steps"] * dt * b2.second, namespace={})
            self.monitor.active = True
            self.network.run(rate_duration, namespace={})
            self.monitor.active = False
            self.network.run(self.steps_duration, namespace={})
            b2.device.build(directory=request["directory"], compile=True, run=False)
            compile_s = time.perf_counter() - started
            self._run_binary()
        else:
            self.network.run(0 * b2.second, namespace={})  # code generation and compilation only
            compile_s = time.perf_counter() - started
            self.network.run(request["warmup_steps"] * dt * b2.second, namespace={})
            self.monitor.active = True
            self.network.run(rate_duration, namespace={})
            self.monitor.active = False
        rate_hz = float(self.monitor.num_spikes) / (data["bias"].size * float(rate_duration))
        return {"build_s": build_s, "compile_s": compile_s, "rate_hz": rate_hz, "versions": _versions()}

    def _run_binary(self):
        import brian2 as b2

        b2.device.run(with_output=False)
        return float(b2.device._last_run_time)

    def sample(self, request):
        import brian2 as b2

        if self.standalone:
            return {"seconds": self._run_binary()}
        self.network.run(self.steps_duration, namespace={})
        return {"seconds": float(b2.get_device()._last_run_time)}


def main():
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by Brian2 or the compiler goes to stderr
    runner = Runner()
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        try:
            reply = {"ok": True, **getattr(runner, request["op"])(request)}
        except Exception as exc:  # reported to the client as the reason the target is unavailable
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
