"""Short runs shared by the plot and video tests (each runs once per session)."""

import pytest
from viz_runs import MPC_PUSH_LAUNCH, STATE_FEEDBACK_LAUNCH, run_into


@pytest.fixture(scope="session")
def state_feedback_run(tmp_path_factory):
    """1 s of spiking state feedback: 100 ticks of 10 ms."""
    return run_into(tmp_path_factory, STATE_FEEDBACK_LAUNCH, 1.0)


@pytest.fixture(scope="session")
def mpc_push_run(tmp_path_factory):
    """1.5 s of spiking MPC: 150 ticks of 10 ms, the first push (at 1 s) included."""
    return run_into(tmp_path_factory, MPC_PUSH_LAUNCH, 1.5)
