"""Activity counters shared by networks, controllers and metrics: what one control tick spent.

Index an int64 array of len(COUNTER_FIELDS) with SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES, DENSE_MACS and
CPU_MACS: events sent, events x fan-out delivered, neuron state updates, the multiply-accumulates a
dense, non-spiking evaluation of the same computation would need (the comparison for energy), and the
multiply-accumulates of non-spiking work that a controller really executes on a conventional processor
beside its network (a computed-torque controller's mass matrix, inverse dynamics and torque map).

ACTIVITY_FIELDS are the four counts the energy profiles price (`neuroctl.metrics.energy`) and that
metrics.json reports; COUNTER_FIELDS adds `cpu_macs`, which controllers and the per-tick records carry
(trajectory.npz `activity` has one column per COUNTER_FIELDS name). Networks (`neuroctl.network`) fill the
first four only.
"""

SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES, DENSE_MACS, CPU_MACS = range(5)
ACTIVITY_FIELDS = ("spikes", "synaptic_events", "neuron_updates", "dense_macs")
COUNTER_FIELDS = (*ACTIVITY_FIELDS, "cpu_macs")
