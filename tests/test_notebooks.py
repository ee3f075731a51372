"""examples/quickstart.ipynb runs top to bottom (nbclient) and is stored without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def test_quickstart_is_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


def test_quickstart_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEUROCTL_QUICKSTART_OUT", str(tmp_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= 4  # the run's plots, shown inline
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "balanced: True" in text
    assert "cartpole_mpc.yaml" in text and "cost ratio to exact MPC" in text
    assert (tmp_path / "cartpole_mpc" / "metrics.json").is_file()
