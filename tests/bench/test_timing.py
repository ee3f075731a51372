"""Interleaved sampling and the statistics of raw samples."""

import numpy as np
import pytest

from neuroctl.metrics.energy import charged_counts
from neuroctl.bench.tables import Table, number
from neuroctl.bench.timing import interleave, paired_ratio, stats


def test_stats_of_raw_samples():
    result = stats(np.arange(1.0, 101.0))
    assert result["p50"] == pytest.approx(50.5) and result["p99"] == pytest.approx(99.01)
    assert result["max"] == 100.0 and result["mean"] == 50.5 and result["n"] == 100
    with pytest.raises(ValueError):
        stats([])


def test_interleave_alternates_and_keeps_each_samplers_samples():
    calls = []
    samplers = {name: (lambda name=name: calls.append(name) or float(len(calls))) for name in "ABC"}
    samples = interleave(samplers, 3)
    assert calls == list("ABCABCABC")
    assert samples["A"].tolist() == [1.0, 4.0, 7.0] and samples["C"].tolist() == [3.0, 6.0, 9.0]


def test_paired_ratio_cancels_drift():
    drift = np.array([1.0, 2.0, 4.0, 8.0])  # the machine slows down over the run
    ratio = paired_ratio(30.0 * drift, 3.0 * drift)
    assert ratio == {"p50": 10.0, "min": 10.0, "max": 10.0, "rounds": 4}


def test_spiking_controllers_are_charged_their_events_dense_ones_their_macs():
    spiking = {"spikes": 6.0, "synaptic_events": 120.0, "neuron_updates": 404.0, "dense_macs": 8480.0}
    dense = {"spikes": 0.0, "synaptic_events": 0.0, "neuron_updates": 0.0, "dense_macs": 8480.0}
    assert charged_counts(spiking) == {"spikes": 6.0, "synaptic_events": 120.0, "neuron_updates": 404.0}
    assert charged_counts(dense) == {"dense_macs": 8480.0}


def test_markdown_table():
    table = Table("T", ["a", "b"])
    table.add("x", 1234.5678)
    table.add("y", None)
    table.notes.append("note")
    assert table.markdown() == "### T\n\n| a | b |\n|---|---|\n| x | 1235 |\n| y | - |\n\n- note"
    assert number(0.000012) == "1.2e-05" and number(3.14159) == "3.14" and number(True) == "yes"
    with pytest.raises(ValueError):
        table.add("too", "many", "cells")


def test_energies_are_written_in_si_prefixes():
    from neuroctl.bench.tables import energy

    assert energy(1.84e-11) == "18.4 pJ" and energy(3.9e-08) == "39 nJ" and energy(7.29e-05) == "72.9 uJ"
    assert energy(0.000186) == "186 uJ" and energy(0.0) == "0 J" and energy(None) == "-"
