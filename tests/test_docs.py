"""The documentation site builds with `mkdocs build --strict`, and its key pages say what they should."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def text_of(site: Path, page: str) -> str:
    path = site / page / "index.html"
    assert path.is_file(), f"{page} was not built"
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_key_pages_exist(site: Path) -> None:
    for page in ("", "getting-started", "tutorials/demo", "tutorials/compare", "tutorials/wrappers",
                 "tutorials/own-environment", "tutorials/network", "ROBOTS", "BENCHMARKS",
                 "reference/cli", "reference/configuration", "reference/outputs", "reference/environments",
                 "api/run", "api/wrappers", "api/control", "api/network", "api/envs", "api/runtime"):
        assert (site / page / "index.html").is_file(), page


def test_configuration_reference_lists_every_key_with_its_range(site: Path) -> None:
    from neuroctl.bench.suite import SUITE_KINDS
    from neuroctl.control.registry import CONTROLLER_KINDS

    text = " ".join(text_of(site, "reference/configuration").split())
    assert "run.duration_s number s (0, 86400] 10" in text
    assert "run.overrun_policy one of hold , skip , abort" in text
    assert "sensors.<name>.max_rate_per_s" in text
    for kind in (*CONTROLLER_KINDS, *SUITE_KINDS):
        assert f"¶ {kind}" in text or f"{kind} ¶" in text, kind
    assert "theta_sensor number >= 0 0.0001" in text
    assert "population.neurons_per_dimension integer [1, 2000] 100" in text  # spiking_state_feedback's default


def test_cli_reference_has_every_command_and_exit_code(site: Path) -> None:
    text = text_of(site, "reference/cli")
    for command in ("launch", "check", "eval", "bench", "info"):
        assert f"neuroctl {command}" in text
    for flag in ("--duration", "--mode", "--seed", "--controller", "--out", "--record", "--seeds",
                 "--first-seed", "--repeat"):
        assert flag in text
    for code in ("130", "143", "EXIT_USAGE", "EXIT_RESULTS_ELSEWHERE"):
        assert code in text


def test_api_and_schema_pages(site: Path) -> None:
    api = text_of(site, "api/run")
    for name in ("run_launch", "RunResult", "state_figure", "raster_figure", "latency_figure",
                 "activity_energy_figure"):
        assert name in api
    assert "ControllerPolicy" in text_of(site, "api/wrappers")
    assert "SpikingMPCController" in text_of(site, "api/control")
    assert "QuadrupedMPCController" in text_of(site, "api/control") and "leg_torques" in text_of(site, "api/control")
    assert "SpectrumTracker" in text_of(site, "api/network")
    assert "NetworkDescription" in text_of(site, "api/network")
    assert "DeclaredRobot" in text_of(site, "api/envs")
    assert "describe" in text_of(site, "api/runtime")
    outputs = text_of(site, "reference/outputs")
    for key in ("latency_us.controller", "energy.profiles.", "cost_ratio", "qp_error", "started_utc"):
        assert key in outputs


def test_network_tutorial_snippet_runs() -> None:
    page = (ROOT / "docs" / "tutorials" / "network.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "b ~ a^2: 0.2" in done.stdout


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)", readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
