"""Backend faults: botocore hooks that answer for the server, on real clients of the embedded
server. Deterministic with a seed, bounded (never more than MAX_CONSECUTIVE in a row), only
while armed, and seen by botocore and the stream reader exactly like the real errors."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from streamsim.aws.backend import LOCAL_CREDENTIALS, Backend
from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.tables import PLAYS, create_table
from streamsim.workbench.faults.clients import MAX_CONSECUTIVE, ClientFaults
from streamsim.workbench.faults.plan import FaultPlan
from streamsim.workbench.faults.spec import parse_faults


def raw_client(backend: Backend, service: str = "dynamodb") -> Any:
    """A client without botocore retries, so every injected fault is seen."""
    return boto3.session.Session().client(
        service,
        endpoint_url=backend.endpoint_url,
        region_name=backend.region,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        **LOCAL_CREDENTIALS,
    )


def outcomes(client: Any, calls: int) -> list[str]:
    out = []
    for _ in range(calls):
        try:
            client.list_tables()
            out.append("ok")
        except ClientError as exc:
            out.append(exc.response["Error"]["Code"])
        except EndpointConnectionError:
            out.append("unreachable")
    return out


def armed(specs: str, seed: int = 1, **kwargs: Any) -> ClientFaults:
    faults = ClientFaults(parse_faults(specs), seed=seed, **kwargs)
    faults.arm()
    return faults


def test_throttling_and_server_errors_look_like_the_real_ones(backend) -> None:
    faults = armed("throttle=0.3,server-errors=0.3")
    client = raw_client(backend)
    faults.install(client, "dynamodb")
    seen = outcomes(client, 60)
    assert set(seen) == {"ok", "ThrottlingException", "InternalServerError"}
    try:
        while True:
            client.list_tables()
    except ClientError as exc:
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        assert (exc.response["Error"]["Code"], status) in {
            ("ThrottlingException", 400),
            ("InternalServerError", 500),
        }


def test_a_seed_fixes_the_faults_and_they_are_bounded(backend) -> None:
    runs = []
    for _ in range(2):
        faults = armed("throttle=0.5", seed=42)
        client = raw_client(backend)
        faults.install(client, "dynamodb")
        runs.append(outcomes(client, 200))
    assert runs[0] == runs[1]
    longest = run_length = 0
    for outcome in runs[0]:
        run_length = run_length + 1 if outcome != "ok" else 0
        longest = max(longest, run_length)
    assert 2 <= longest <= MAX_CONSECUTIVE


def test_faults_fire_only_while_armed(backend) -> None:
    faults = ClientFaults(parse_faults("server-errors=0.5"), seed=1)
    client = raw_client(backend)
    faults.install(client, "dynamodb")
    assert outcomes(client, 20) == ["ok"] * 20  # not armed yet: setting up a run
    faults.arm()
    assert "InternalServerError" in outcomes(client, 20)
    faults.disarm()
    assert outcomes(client, 20) == ["ok"] * 20  # disarmed: capturing the run


def test_an_unreachable_window_opens_and_closes_on_time(backend) -> None:
    now = [100.0]
    faults = armed("unreachable=2@1", now=lambda: now[0])
    client = raw_client(backend)
    faults.install(client, "dynamodb")
    timeline = []
    for t in (100.5, 101.0, 102.9, 103.0, 110.0):
        now[0] = t
        timeline.append(outcomes(client, 1)[0])
    assert timeline == ["ok", "unreachable", "unreachable", "ok", "ok"]


def test_expired_iterators_are_reacquired_by_the_reader(backend) -> None:
    dynamodb = backend.client("dynamodb")
    stream_arn = create_table(dynamodb, PLAYS)
    assert stream_arn is not None
    for i in range(30):
        dynamodb.put_item(
            TableName="Plays", Item={"player_id": {"S": "p"}, "play_key": {"S": f"k{i:03d}"}}
        )
    faults = armed("expire-iterators=0.5", seed=3)
    streams = raw_client(backend, "dynamodbstreams")
    faults.install(streams, "dynamodbstreams")
    reader = StreamReader(streams, stream_arn)
    (shard,) = reader.shards()
    cursor = reader.cursor(shard)
    keys = []
    for _ in range(40):
        keys += [r.keys["play_key"]["S"] for r in cursor.read(limit=3)]
    assert keys == [f"k{i:03d}" for i in range(30)]  # nothing skipped, nothing twice
    assert cursor.reacquired_expired > 0


def test_a_plan_installs_its_hooks_for_its_run_only(backend) -> None:
    stream_arn = create_table(backend.client("dynamodb"), PLAYS)
    plan = FaultPlan.parse("expire-iterators=0.5")  # not retried by botocore: no backoff sleeps
    before = list(backend.client_hooks)

    def get_records(streams: Any) -> str:
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        try:
            streams.get_records(ShardIterator=iterator)
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with plan.installed(backend):
        assert len(backend.client_hooks) == len(before) + 1
        streams = backend.client("dynamodbstreams")
        plan.arm()
        seen = {get_records(streams) for _ in range(10)}
    assert seen == {"ok", "ExpiredIteratorException"}
    assert backend.client_hooks == before
    assert plan.injected["expire-iterators"] > 0
    assert {get_records(streams) for _ in range(5)} == {"ok"}  # disarmed when the block ends
    assert {get_records(backend.client("dynamodbstreams")) for _ in range(5)} == {"ok"}


@pytest.mark.parametrize("service", ["dynamodb", "dynamodbstreams", "sqs"])
def test_every_service_parses_the_injected_error(backend, service: str) -> None:
    faults = armed("throttle=0.5", seed=5)
    client = raw_client(backend, service)
    faults.install(client, service)
    call = {
        "dynamodb": lambda: client.list_tables(),
        "dynamodbstreams": lambda: client.list_streams(),
        "sqs": lambda: client.list_queues(),
    }[service]
    codes = set()
    for _ in range(20):
        try:
            call()
        except ClientError as exc:
            codes.add(exc.response["Error"]["Code"])
    assert codes == {"ThrottlingException"}


def test_expired_iterators_are_counted_not_drawn() -> None:
    # One GetRecords call in every 1/rate, from the run's first: a run that polls only once
    # (a loaded machine) still meets the fault, and the share is the rate.
    faults = armed("expire-iterators=0.1", seed=7)
    assert [n for n in range(1, 32) if faults.expire_due(capped=False)] == [1, 11, 21, 31]
    half = armed("expire-iterators=0.5")
    # A due call on a client at its cap passes; the next call that may fail expires instead.
    assert [half.expire_due(capped=c) for c in (True, False, False, False)] == [
        False,
        True,
        True,
        False,
    ]


def test_the_first_get_records_of_a_run_expires(backend) -> None:
    stream_arn = create_table(backend.client("dynamodb"), PLAYS)
    faults = armed("expire-iterators=0.05")
    streams = raw_client(backend, "dynamodbstreams")
    faults.install(streams, "dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    with pytest.raises(ClientError, match="ExpiredIteratorException"):
        streams.get_records(ShardIterator=iterator)
    assert "Records" in streams.get_records(ShardIterator=iterator)  # the next 19 do not
