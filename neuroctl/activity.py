"""Activity counters shared by networks, controllers and metrics: what one control tick spent.

Index an int64 array of len(ACTIVITY_FIELDS) with SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES and
DENSE_MACS: events sent, events x fan-out delivered, neuron state updates, and the multiply-accumulates
a dense, non-spiking evaluation of the same computation would need (the comparison for energy).
"""

SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES, DENSE_MACS = range(4)
ACTIVITY_FIELDS = ("spikes", "synaptic_events", "neuron_updates", "dense_macs")
