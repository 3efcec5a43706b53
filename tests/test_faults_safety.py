"""Safety: real AWS is never touched by accident.

Without --allow-remote, a non-loopback endpoint, real AWS, or a real account's credentials in
the environment make the command refuse, with an explanation, before any connection (every
test here fails if a socket connects beyond loopback). Loopback endpoints always sign with
dummy credentials. That the embedded server binds 127.0.0.1 only is tested in test_backend.py.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from streamsim.aws.backend import Backend, BackendInfo, open_backend, real_access_key_id
from streamsim.errors import BackendError
from streamsim.workbench.cli import main

#: AWS's documentation example key: the shape of a real one, the account of nobody.
EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch) -> None:
    """Any connection beyond 127.0.0.0/8 or ::1 fails the test."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"a connection to {address} was attempted")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        _refuse_lookups(socket.getaddrinfo),
    )


def _refuse_lookups(lookup: Any) -> Any:
    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1", None):
            raise AssertionError(f"a DNS lookup of {host!r} was attempted")
        return lookup(host, *args, **kwargs)

    return guarded


@pytest.fixture
def real_looking_credentials(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", EXAMPLE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


@pytest.mark.parametrize("endpoint", ["aws", "http://dynamodb.example.invalid:8000"])
def test_real_credentials_and_a_remote_endpoint_are_refused_with_the_reason(
    real_looking_credentials, endpoint: str
) -> None:
    with pytest.raises(BackendError) as refused:
        open_backend(endpoint)
    message = str(refused.value)
    assert "credentials of a real AWS account (AWS_ACCESS_KEY_ID AKIA…MPLE)" in message
    assert "--allow-remote" in message and EXAMPLE_KEY not in message


def test_the_cli_refuses_before_doing_anything(real_looking_credentials, capsys) -> None:
    assert main(["run", "--endpoint-url", "aws", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamsim: error: refusing to use real AWS with the credentials")
    assert err.count("\n") == 1


def test_an_inherited_remote_endpoint_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("STREAMSIM_ENDPOINT_URL", "https://dynamodb.example.invalid")
    with pytest.raises(BackendError, match="non-local endpoint"):
        open_backend()


def test_loopback_endpoints_sign_with_dummy_credentials(real_looking_credentials, backend) -> None:
    with open_backend(backend.endpoint_url) as other:  # allowed: loopback
        client = other.client("dynamodb")
        assert client._request_signer._credentials.access_key == "streamsim"
        assert client.list_tables()["TableNames"] == []
    embedded = backend.client("dynamodbstreams")
    assert embedded._request_signer._credentials.access_key == "streamsim"


def test_a_hand_made_backend_for_aws_refuses_to_make_clients(real_looking_credentials) -> None:
    info = BackendInfo("aws", "live", "https://dynamodb.eu-central-1.amazonaws.com", "x", False)
    with pytest.raises(BackendError, match="refusing to use real AWS"):
        Backend(None, "eu-central-1", info).client("dynamodb")
    with pytest.raises(BackendError, match="non-local endpoint http://db.example.invalid"):
        Backend("http://db.example.invalid", "eu-central-1", info).client("dynamodb")


def test_allow_remote_is_an_explicit_opt_in(real_looking_credentials) -> None:
    backend = open_backend("aws", allow_remote=True)  # no connection: nothing is called
    assert backend.info.name == "aws" and backend.endpoint_url is None


@pytest.mark.parametrize(
    "value, masked",
    [
        (EXAMPLE_KEY, "AKIA…MPLE"),
        ("ASIAY34FZKBOKMUTVV7A", "ASIA…VV7A"),  # temporary credentials too
        ("streamsim", None),
        ("AKIA", None),
        ("akiaiosfodnn7example", None),
        ("", None),
    ],
)
def test_which_keys_look_real(value: str, masked: str | None) -> None:
    assert real_access_key_id({"AWS_ACCESS_KEY_ID": value}) == masked
