"""No kernel is compiled, or loaded from numba's cache, once the loop's ticks have started: the
controller's, the monitor's, the watchdog's and the environment's warm-ups cover every kernel a tick
calls. A kernel first called in a tick costs 10-30 ms from the cache and seconds on a fresh machine,
long enough for a paced robot to fall (the quadruped did, in tick 0)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import contextlib, gc, json, sys
from numba.core.registry import CPUDispatcher
import neuroctl.runtime.loop as loop
from neuroctl.launchfile import load_launch
from neuroctl.run import LaunchRunner

def overloads():
    return {id(o): (o.py_func.__qualname__, len(o.overloads)) for o in gc.get_objects() if isinstance(o, CPUDispatcher)}

ticks_began = loop.garbage_collection_paused  # entered after the warm-ups, left after the last tick
added = []

@contextlib.contextmanager
def watched(realtime):
    before = overloads()
    with ticks_began(realtime):
        yield
    added.extend(name for key, (name, count) in overloads().items() if count > before.get(key, ("", 0))[1])

loop.garbage_collection_paused = watched
with LaunchRunner(load_launch(sys.argv[1], mode="fast", duration_s=float(sys.argv[2]))) as runner:
    result = runner.run(0)
print(json.dumps({"added": sorted(added), "ticks": result.outcome.ticks}))
"""


@pytest.mark.parametrize("launch, duration_s", [("quadruped_trot_realtime.yaml", 0.2), ("cartpole_realtime.yaml", 0.1),
                                              ("arm_reach_realtime.yaml", 0.1)])
def test_no_kernel_is_compiled_or_loaded_during_the_ticks(launch, duration_s):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "launch" / launch), str(duration_s)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ticks"] == 100
    assert report["added"] == []
