"""The embedded backend: loopback only, quiet, recorded; other endpoints only when allowed."""

from __future__ import annotations

import pytest

from streamsim.aws.backend import (
    EmbeddedServer,
    check_endpoint_allowed,
    is_loopback_url,
    open_backend,
)
from streamsim.errors import BackendError


def test_embedded_server_binds_to_loopback_only(backend) -> None:
    assert backend.info.embedded
    host, port = backend._server.bound_address
    assert host == "127.0.0.1"
    assert port > 0
    assert backend.endpoint_url == f"http://127.0.0.1:{port}"


def test_embedded_server_refuses_a_non_loopback_bind() -> None:
    with pytest.raises(BackendError, match="loopback only"):
        EmbeddedServer(host="0.0.0.0")


def test_backend_name_and_version_are_recorded(backend) -> None:
    info = backend.info.to_dict()
    assert info["name"] == "moto"
    assert info["version"][0].isdigit()
    assert info["region"] == "eu-central-1"


@pytest.mark.parametrize(
    "url, loopback",
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.1.2.3:4566", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://dynamodb.example.invalid:8000", False),
        ("https://dynamodb.eu-central-1.amazonaws.com", False),
    ],
)
def test_loopback_detection(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_remote_endpoints_are_refused_before_any_connection() -> None:
    # *.invalid never resolves (RFC 2606): a refusal here cannot have come from a connection.
    with pytest.raises(BackendError, match="--allow-remote"):
        open_backend("http://dynamodb.example.invalid:8000")
    with pytest.raises(BackendError, match="real AWS"):
        open_backend("aws")
    check_endpoint_allowed("http://dynamodb.example.invalid:8000", allow_remote=True)


def test_malformed_endpoint_is_a_clear_error() -> None:
    with pytest.raises(BackendError, match="not an http"):
        open_backend("ftp://127.0.0.1:21")


def test_environment_variable_names_the_endpoint(monkeypatch, backend) -> None:
    monkeypatch.setenv("STREAMSIM_ENDPOINT_URL", backend.endpoint_url)
    with open_backend() as other:
        assert not other.info.embedded
        assert other.endpoint_url == backend.endpoint_url
        assert other.client("dynamodb").list_tables()["TableNames"] == []


def test_region_is_settable(monkeypatch) -> None:
    monkeypatch.setenv("STREAMSIM_REGION", "eu-west-1")
    backend = open_backend("http://127.0.0.1:9")
    assert backend.region == "eu-west-1"
