"""Activity counters shared by networks, controllers and metrics: what one control tick spent.

Index an int64 array of len(COUNTER_FIELDS) with SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES, DENSE_MACS,
CPU_MACS and WEIGHT_UPDATES: events sent, events x fan-out delivered, neuron state updates, the
multiply-accumulates a dense, non-spiking evaluation of the same computation would need (the comparison
for energy), the multiply-accumulates of non-spiking work that a controller really executes on a
conventional processor beside its network (a computed-torque controller's mass matrix, inverse dynamics
and torque map), and the synaptic weight updates of online learning (PES: n_pre x output size per
substep for each learning output).

ACTIVITY_FIELDS are the four counts every network fills. COUNTER_FIELDS, which networks, controllers
and the per-tick records carry (trajectory.npz `activity` has one column per COUNTER_FIELDS name) and
metrics.json reports (`activity`: `<name>_per_tick`), adds after them (appended: no earlier index
moved) `cpu_macs`, `weight_updates` and `graded_synaptic_events`: the part of `synaptic_events` whose
events carry a value, so that each is a multiply-accumulate (sigma-delta events x fan-out; a factored
connection's value x the post neurons' encoders); the rest are binary spikes x fan-out, accumulates.
Those are NeuroBench's effective MACs and ACs (`neuroctl.metrics.report.neurobench_section`).
PRICED_FIELDS are the counts the energy profiles price (`neuroctl.metrics.energy`); `cpu_macs` is
priced apart, on the host.
"""

SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES, DENSE_MACS, CPU_MACS, WEIGHT_UPDATES, GRADED_SYNAPTIC_EVENTS = range(7)
ACTIVITY_FIELDS = ("spikes", "synaptic_events", "neuron_updates", "dense_macs")
COUNTER_FIELDS = (*ACTIVITY_FIELDS, "cpu_macs", "weight_updates", "graded_synaptic_events")
PRICED_FIELDS = (*ACTIVITY_FIELDS, "weight_updates")
