"""`neuroctl bench`: latency and energy benchmark suites (configs/bench/*.yaml).

- `suite`: reads a suite file, dispatches to its kind, writes bench.json and bench.md.
- `kernel`: network step speed of neuroctl's kernel against Nengo, Brian2 and plain numpy.
- `controllers`: every controller on the same seeded cart-pole episodes: latency, activity, task, EDP.
- `realtime`: closed loops paced to the wall clock: deadline misses and lateness.
- `workload`, `simulators`, `nengo_peer`, `brian2_peer` (+ `brian2_venv`, `brian2_runner`): the kernel
  suite's network and the simulators that run it.
- `episodes`: per-tick samples of several runs of a launch file, pooled.
- `timing`, `machine`, `tables`: interleaved sampling and statistics, the machine block, markdown.
"""
