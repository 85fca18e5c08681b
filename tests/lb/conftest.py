"""Fixtures shared by the `hotdeploy lb` process tests."""

from __future__ import annotations

import pytest
from lbtools import start_backend


@pytest.fixture
def three_backends():
    """Backends a, b and c on 127.0.0.1-3, killed after the test."""
    started = [start_backend(name, f"127.0.0.{i}") for i, name in enumerate("abc", start=1)]
    yield started
    for backend in started:
        backend.kill()
