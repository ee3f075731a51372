"""Short runs for the plot and video tests."""

from pathlib import Path

from neuroctl.launchfile import load_launch
from neuroctl.run import run_launch

ROOT = Path(__file__).resolve().parents[2]
STATE_FEEDBACK_LAUNCH = ROOT / "launch" / "cartpole_balance.yaml"
MPC_PUSH_LAUNCH = ROOT / "launch" / "cartpole_mpc_push.yaml"
CONTROLLERS = ROOT / "configs" / "controllers"


def run_into(tmp_path_factory, launch_path: Path, duration_s: float, controller: Path | None = None):
    """(launch, result, run directory) of a short run of `launch_path`."""
    launch = load_launch(launch_path, controller, duration_s=duration_s)
    out_dir = tmp_path_factory.mktemp(launch.name)
    return launch, run_launch(launch, out_dir), out_dir
