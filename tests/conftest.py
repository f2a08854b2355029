"""Shared fixtures for the core tests."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from _helpers import plain_pipeline, small_pipeline
from salesstages import Pipeline

# CI runs on a loaded 2-core machine and gates landing: no deadlines, no
# too-slow health check, and a fixed exploration so a run is reproducible.
# Locally, Hypothesis explores afresh on every run.
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def pipeline() -> Pipeline:
    """The small guarded pipeline."""
    return small_pipeline()


@pytest.fixture
def plain() -> Pipeline:
    """The unguarded a → b → c pipeline."""
    return plain_pipeline()
