"""Shared by the environment tests."""

import pytest


@pytest.fixture
def build_closed():
    """`build_closed(EnvClass, **kwargs)` builds an environment that is closed after the test (each owns a
    PyBullet server)."""
    envs = []

    def build(env_class, **kwargs):
        env = env_class(**kwargs)
        envs.append(env)
        return env

    yield build
    for env in envs:
        env.close()
