"""Docker tests run against a real daemon; they skip (saying why) only where none runs."""

from __future__ import annotations

import pytest
from dockertools import daemon_problem, ensure_base_image, project_containers


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    problem = daemon_problem()
    if problem is not None:
        pytest.skip(problem)


@pytest.fixture(scope="session")
def base_image(docker_daemon) -> str:
    return ensure_base_image()


@pytest.fixture
def leftovers():
    """After a test: remove whatever container of the test projects is left (and fail the
    test's own checks first, not here)."""
    yield
    for name in ("dshop", "dshop2"):
        for container in project_containers(name):
            container.remove(force=True)
