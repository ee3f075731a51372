"""Shipped YAML configs (controllers, hardware energy profiles, benchmark suites), installed as `neuroctl.configs`."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
