"""Shared fixtures for the core tests."""

from __future__ import annotations

import pytest

from _helpers import plain_pipeline, small_pipeline
from salesstages import Pipeline


@pytest.fixture
def pipeline() -> Pipeline:
    """The small guarded pipeline."""
    return small_pipeline()


@pytest.fixture
def plain() -> Pipeline:
    """The unguarded a → b → c pipeline."""
    return plain_pipeline()
