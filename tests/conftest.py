"""Shared fixtures: one embedded moto server per test session, reset before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from streamsim.aws.backend import Backend, open_backend
from streamsim.clock import VirtualClock

# CI runs a fixed set of examples (a red run does not land); local runs explore new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Tests never use an endpoint inherited from the environment.
os.environ.pop("STREAMSIM_ENDPOINT_URL", None)


@pytest.fixture(scope="session")
def _server() -> Iterator[Backend]:
    with open_backend(region="eu-central-1") as backend:
        yield backend


@pytest.fixture
def backend(_server: Backend) -> Backend:
    """The embedded server with no tables, streams or queues."""
    _server.reset()
    return _server


@pytest.fixture
def dynamodb(backend: Backend):  # type: ignore[no-untyped-def]
    return backend.client("dynamodb")


@pytest.fixture
def streams(backend: Backend):  # type: ignore[no-untyped-def]
    return backend.client("dynamodbstreams")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Say it when the MiniStack cross-check (tests/test_crosscheck.py) could not run."""
    from streamsim.aws.servers import ministack_available

    reason = ministack_available()
    if reason is not None:
        terminalreporter.write_line(f"streamsim: MiniStack cross-check skipped: {reason}")


@pytest.fixture(scope="session")
def small_report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """`streamsim report --small`, built once and read by the notebook, report and browser
    tests (tests/smallreport.py)."""
    from tests.smallreport import build_small_report

    return build_small_report(tmp_path_factory.mktemp("small-report"))
