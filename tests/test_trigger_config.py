"""EventSourceMapping and TriggerTiming: AWS defaults, ranges, CLI JSON in and out."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsim.aws.trigger.config import (
    KNOWN_CLI_KEYS,
    DestinationConfig,
    DestinationType,
    EventSourceMapping,
    TriggerTiming,
)
from streamsim.errors import ConfigError

STREAM_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/Plays/stream/2024-06-10T19:26:16.525"
QUEUE_ARN = "arn:aws:sqs:eu-central-1:123456789012:plays-dlq"
TOPIC_ARN = "arn:aws:sns:eu-central-1:123456789012:plays-failures"
BUCKET_ARN = "arn:aws:s3:::plays-failures"


def mapping(**params: Any) -> EventSourceMapping:
    """from_aws with StartingPosition filled in."""
    return EventSourceMapping.from_aws({"StartingPosition": "LATEST", **params})


# --------------------------------------------------------------------------- defaults


def test_defaults_are_aws_defaults() -> None:
    # Given only the required StartingPosition
    m = EventSourceMapping.from_aws({"StartingPosition": "TRIM_HORIZON"})
    # Then every other parameter has AWS's default [P, API, R]
    assert m.batch_size == 100
    assert m.maximum_batching_window_in_seconds == 0
    assert m.parallelization_factor == 1
    assert m.maximum_retry_attempts == -1
    assert m.maximum_record_age_in_seconds == -1
    assert m.bisect_batch_on_function_error is False
    assert m.function_response_types == ()
    assert m.destination_config is None
    assert m.filter_criteria == ()
    assert m.tumbling_window_in_seconds == 0
    assert m.enabled is True
    assert m.event_source_arn is None and m.function_name is None
    assert m.retries_unlimited and m.record_age_unlimited
    assert not m.report_batch_item_failures
    assert m.filters.is_empty and m.warnings == ()


def test_constructor_and_from_aws_agree() -> None:
    assert EventSourceMapping(starting_position="LATEST") == mapping()


def test_timing_defaults() -> None:
    t = TriggerTiming()
    assert t.poll_interval_seconds == 0.25  # 4 polls per second [D]
    assert (t.initial_backoff_seconds, t.backoff_multiplier, t.max_backoff_seconds) == (
        1.0,
        2.0,
        300.0,
    )
    assert t.function_timeout_seconds == 3.0
    assert t.max_payload_bytes == 6 * 1024 * 1024
    assert t.record_retention_seconds == 86_400


# --------------------------------------------------------------------------- integer ranges

RANGES = [
    # (AWS key, lowest, highest, default)
    ("BatchSize", 1, 10_000, 100),
    ("MaximumBatchingWindowInSeconds", 0, 300, 0),
    ("ParallelizationFactor", 1, 10, 1),
    ("MaximumRetryAttempts", -1, 10_000, -1),
    ("TumblingWindowInSeconds", 0, 900, 0),
]


@pytest.mark.parametrize(("key", "low", "high", "default"), RANGES)
def test_integer_range_boundaries(key: str, low: int, high: int, default: int) -> None:
    assert mapping(**{key: low}).to_aws()[key] == low
    assert mapping(**{key: high}).to_aws()[key] == high
    for outside in (low - 1, high + 1):
        with pytest.raises(ConfigError) as err:
            mapping(**{key: outside})
        assert str(err.value).startswith(f"{key}={outside} is out of range: allowed {low}–{high}")
        assert f"(AWS default {default})" in str(err.value)


def test_batch_size_message_is_exact() -> None:
    with pytest.raises(ConfigError) as err:
        mapping(BatchSize=0)
    assert str(err.value) == "BatchSize=0 is out of range: allowed 1–10000 (AWS default 100)"


@pytest.mark.parametrize("age", [-1, 60, 61, 604_800])
def test_record_age_accepts_minus_one_or_60_to_a_week(age: int) -> None:
    assert mapping(MaximumRecordAgeInSeconds=age).maximum_record_age_in_seconds == age


@pytest.mark.parametrize("age", [-2, 0, 1, 59, 604_801])
def test_record_age_rejects_the_gap_below_60(age: int) -> None:
    # AWS: "must be either -1 (forever) or between 60 and 604800 (inclusive)"
    with pytest.raises(ConfigError, match=rf"^MaximumRecordAgeInSeconds={age} is out of range"):
        mapping(MaximumRecordAgeInSeconds=age)


@pytest.mark.parametrize("value", [True, False, 1.0, 100.5, "100", None, [100]])
def test_integers_reject_other_types_including_bool(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^BatchSize=.* has the wrong type"):
        mapping(BatchSize=value)


@pytest.mark.parametrize("key", ["Enabled", "BisectBatchOnFunctionError"])
@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_booleans_reject_non_booleans(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}="):
        mapping(**{key: value})


# --------------------------------------------------------------------------- strings and lists


def test_starting_position_is_required() -> None:
    with pytest.raises(ConfigError, match="StartingPosition is required"):
        EventSourceMapping.from_aws({"BatchSize": 10})


def test_at_timestamp_is_rejected_for_dynamodb() -> None:
    with pytest.raises(ConfigError, match="AT_TIMESTAMP.*not supported for DynamoDB"):
        mapping(StartingPosition="AT_TIMESTAMP")


@pytest.mark.parametrize("value", ["latest", "", "NOW", 0, None])
def test_starting_position_other_values(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^StartingPosition=.*allowed TRIM_HORIZON, LATEST"):
        mapping(StartingPosition=value)


def test_function_response_types() -> None:
    m = mapping(FunctionResponseTypes=["ReportBatchItemFailures"])
    assert m.report_batch_item_failures
    assert mapping(FunctionResponseTypes=[]).function_response_types == ()
    for bad in (["Other"], ["ReportBatchItemFailures"] * 2, "ReportBatchItemFailures"):
        with pytest.raises(ConfigError, match="^FunctionResponseTypes="):
            mapping(FunctionResponseTypes=bad)


@pytest.mark.parametrize(
    ("arn", "kind"),
    [(QUEUE_ARN, DestinationType.SQS), (TOPIC_ARN, DestinationType.SNS), (BUCKET_ARN, "s3")],
)
def test_destination_accepts_sqs_sns_s3(arn: str, kind: str) -> None:
    m = mapping(DestinationConfig={"OnFailure": {"Destination": arn}})
    assert m.on_failure_destination == arn
    assert m.destination_config is not None
    assert m.destination_config.destination_type == kind


@pytest.mark.parametrize(
    "arn",
    [
        "kafka://my-topic",
        "arn:aws:lambda:eu-central-1:123456789012:function:other",
        "arn:aws:sqs:eu-central-1:123456789012:bad name",
        "arn:aws:sqs:::plays-dlq",
        "arn:aws:s3:eu-central-1:123456789012:bucket",
        "arn:aws:s3:::Bad_Bucket",
        "plays-dlq",
        "",
        42,
    ],
)
def test_destination_rejects_other_arns(arn: Any) -> None:
    with pytest.raises(ConfigError, match="^DestinationConfig.OnFailure.Destination="):
        DestinationConfig(on_failure=arn)


def test_destination_config_shapes() -> None:
    assert mapping(DestinationConfig={}).destination_config is None
    assert mapping(DestinationConfig={"OnFailure": {}}).destination_config is None
    assert mapping(DestinationConfig={"OnFailure": {"Destination": ""}}).destination_config is None
    with pytest.raises(ConfigError, match="OnSuccess is not supported"):
        mapping(DestinationConfig={"OnSuccess": {"Destination": QUEUE_ARN}})
    with pytest.raises(ConfigError, match="^DestinationConfig="):
        mapping(DestinationConfig=QUEUE_ARN)


def test_fifo_destination_is_accepted_with_a_warning() -> None:
    m = mapping(DestinationConfig={"OnFailure": {"Destination": QUEUE_ARN + ".fifo"}})
    assert any("FIFO" in w for w in m.warnings)


def test_filter_criteria_up_to_five_patterns() -> None:
    patterns = [json.dumps({"eventName": [name]}) for name in ("INSERT", "MODIFY", "REMOVE")]
    five = {"Filters": [{"Pattern": p} for p in patterns + patterns[:2]]}
    assert len(mapping(FilterCriteria=five).filters.patterns) == 5
    six = {"Filters": five["Filters"] + [{"Pattern": patterns[2]}]}
    with pytest.raises(ConfigError, match="has 6 patterns: allowed at most 5"):
        mapping(FilterCriteria=six)


def test_filter_pattern_length_limit() -> None:
    def pattern(length: int) -> str:
        text = '{"a":["' + "x" * (length - 10) + '"]}'
        assert len(text) == length
        return text

    assert mapping(FilterCriteria={"Filters": [{"Pattern": pattern(4096)}]}).filters.patterns
    with pytest.raises(ConfigError, match="4097 characters long: allowed at most 4096"):
        mapping(FilterCriteria={"Filters": [{"Pattern": pattern(4097)}]})


def test_filter_criteria_shapes() -> None:
    assert mapping(FilterCriteria={}).filter_criteria == ()
    assert mapping(FilterCriteria={"Filters": []}).filter_criteria == ()
    shapes: list[Any] = [[], {"Filters": "x"}, {"Filters": [{"pattern": "{}"}]}, {"Other": []}]
    for bad in shapes:
        with pytest.raises(ConfigError, match="^FilterCriteria"):
            mapping(FilterCriteria=bad)
    with pytest.raises(ConfigError, match="pattern 1 of 1 is not valid JSON"):
        mapping(FilterCriteria={"Filters": [{"Pattern": "single-string"}]})


def test_event_source_arn_must_be_a_dynamodb_stream() -> None:
    assert mapping(EventSourceArn=STREAM_ARN).event_source_arn == STREAM_ARN
    for bad in (
        "arn:aws:kinesis:eu-central-1:123456789012:stream/plays",
        "arn:aws:dynamodb:eu-central-1:123456789012:table/Plays",
        "Plays",
    ):
        with pytest.raises(ConfigError, match="^EventSourceArn=.*not a DynamoDB stream ARN"):
            mapping(EventSourceArn=bad)


def test_function_name_forms() -> None:
    for good in (
        "badges",
        "arn:aws:lambda:eu-central-1:123456789012:function:badges",
        "arn:aws:lambda:eu-central-1:123456789012:function:badges:PROD",
        "123456789012:function:badges",
        "f" * 64,
    ):
        assert mapping(FunctionName=good).function_name == good
    for bad in ("", "bad name", "f" * 65, 7):
        with pytest.raises(ConfigError, match="^FunctionName="):
            mapping(FunctionName=bad)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "key",
    [
        "Topics",
        "Queues",
        "SourceAccessConfigurations",
        "SelfManagedEventSource",
        "AmazonManagedKafkaEventSourceConfig",
        "SelfManagedKafkaEventSourceConfig",
        "DocumentDBEventSourceConfig",
        "ScalingConfig",
        "ProvisionedPollerConfig",
        "LoggingConfig",
        "StartingPositionTimestamp",
    ],
)
def test_keys_for_other_event_sources_are_rejected(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key} does not apply to DynamoDB Streams"):
        mapping(**{key: ["x"]})


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match="^Unknown parameter 'BatchSizes'"):
        mapping(BatchSizes=10)
    with pytest.raises(ConfigError, match="^Unknown parameter 'batch_size'"):
        mapping(batch_size=10)


def test_accepted_but_not_emulated_keys_warn_and_round_trip() -> None:
    params = {
        "KMSKeyArn": "arn:aws:kms:eu-central-1:123456789012:key/1234abcd",
        "MetricsConfig": {"Metrics": ["EventCount"]},
        "Tags": {"team": "games"},
    }
    m = mapping(**params)
    assert [w.split(" ")[0] for w in m.warnings] == ["KMSKeyArn", "MetricsConfig", "Tags"]
    out = m.to_aws()
    assert {k: out[k] for k in params} == params
    assert EventSourceMapping.from_aws(out) == m
    with pytest.raises(ConfigError, match="^MetricsConfig="):
        mapping(MetricsConfig={"Metrics": ["Everything"]})
    with pytest.raises(ConfigError, match="^Tags="):
        mapping(Tags={"team": 1})


def test_every_cli_key_is_handled() -> None:
    """Each CreateEventSourceMapping member in botocore's model is mapped, rejected or ignored."""
    model = botocore.session.get_session().get_service_model("lambda")
    members = set(model.operation_model("CreateEventSourceMapping").input_shape.members)
    assert members == set(KNOWN_CLI_KEYS)


def test_non_object_config_is_rejected() -> None:
    not_objects: list[Any] = [[], "LATEST", None, 3]
    for bad in not_objects:
        with pytest.raises(ConfigError, match="must be a JSON object"):
            EventSourceMapping.from_aws(bad)


# --------------------------------------------------------------------------- round trips

FULL_CLI_JSON: dict[str, Any] = {
    "EventSourceArn": STREAM_ARN,
    "FunctionName": "badges",
    "Enabled": False,
    "BatchSize": 25,
    "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]},
    "MaximumBatchingWindowInSeconds": 5,
    "ParallelizationFactor": 4,
    "StartingPosition": "TRIM_HORIZON",
    "DestinationConfig": {"OnFailure": {"Destination": QUEUE_ARN}},
    "MaximumRecordAgeInSeconds": 3600,
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 2,
    "TumblingWindowInSeconds": 60,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
}


def test_cli_json_round_trips_exactly() -> None:
    m = EventSourceMapping.from_aws(FULL_CLI_JSON)
    assert m.to_aws() == FULL_CLI_JSON
    assert EventSourceMapping.from_aws(m.to_aws()) == m
    assert json.loads(json.dumps(m.to_aws())) == FULL_CLI_JSON


def test_from_file(tmp_path: Path) -> None:
    path = tmp_path / "esm.json"
    path.write_text(json.dumps(FULL_CLI_JSON), encoding="utf-8")
    assert EventSourceMapping.from_file(path).to_aws() == FULL_CLI_JSON
    with pytest.raises(ConfigError, match="Cannot read"):
        EventSourceMapping.from_file(tmp_path / "missing.json")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        EventSourceMapping.from_file(path)
    path.write_text('{"StartingPosition": "LATEST", "BatchSize": 0}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"esm\.json: BatchSize=0 is out of range"):
        EventSourceMapping.from_file(path)


def test_direct_construction_and_replace_validate() -> None:
    m = EventSourceMapping(starting_position="LATEST", batch_size=10)
    assert dataclasses.replace(m, batch_size=20).batch_size == 20
    with pytest.raises(ConfigError, match="^BatchSize=0"):
        dataclasses.replace(m, batch_size=0)
    with pytest.raises(ConfigError, match="destination_config must be a DestinationConfig"):
        EventSourceMapping(starting_position="LATEST", destination_config=QUEUE_ARN)  # type: ignore[arg-type]
    d = EventSourceMapping(
        starting_position="LATEST", destination_config=DestinationConfig(on_failure=BUCKET_ARN)
    )
    assert d.to_aws()["DestinationConfig"] == {"OnFailure": {"Destination": BUCKET_ARN}}
    assert hash(d) == hash(EventSourceMapping.from_aws(d.to_aws()))


# --------------------------------------------------------------------------- timing


def test_backoff_grows_exponentially_then_caps() -> None:
    t = TriggerTiming()
    delays = [t.backoff_delay(n) for n in range(1, 12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert t.backoff_delay(10**6) == 300.0  # no overflow
    flat = TriggerTiming(backoff_multiplier=1.0, initial_backoff_seconds=5, max_backoff_seconds=5)
    assert {flat.backoff_delay(n) for n in range(1, 50)} == {5}
    with pytest.raises(ValueError):
        t.backoff_delay(0)
    with pytest.raises(TypeError):
        t.backoff_delay(True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"poll_interval_seconds": 0}, "^poll_interval_seconds=0 is out of range"),
        ({"poll_interval_seconds": float("nan")}, "^poll_interval_seconds=nan"),
        ({"initial_backoff_seconds": -1}, "^initial_backoff_seconds=-1"),
        ({"backoff_multiplier": 0.5}, "^backoff_multiplier=0.5 is out of range"),
        ({"backoff_multiplier": True}, "^backoff_multiplier=true must be a number"),
        ({"max_backoff_seconds": 0.5}, "^max_backoff_seconds=0.5 is below"),
        ({"function_timeout_seconds": 5401}, "^function_timeout_seconds=5401 is out of range"),
        ({"function_timeout_seconds": "3"}, '^function_timeout_seconds="3"'),
        ({"max_payload_bytes": 0}, "^max_payload_bytes=0"),
        ({"max_payload_bytes": 1.5}, "^max_payload_bytes=1.5"),
        ({"record_retention_seconds": float("inf")}, "^record_retention_seconds=inf"),
    ],
)
def test_timing_validation(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TriggerTiming(**changes)


# --------------------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
cli_keys = st.sampled_from(sorted(KNOWN_CLI_KEYS)) | st.text(max_size=12)
valid_values: dict[str, st.SearchStrategy[Any]] = {
    "BatchSize": st.integers(-5, 10_005),
    "MaximumBatchingWindowInSeconds": st.integers(-2, 302),
    "ParallelizationFactor": st.integers(-1, 12),
    "MaximumRetryAttempts": st.integers(-3, 10_002),
    "MaximumRecordAgeInSeconds": st.integers(-3, 604_802),
    "TumblingWindowInSeconds": st.integers(-1, 902),
    "StartingPosition": st.sampled_from(["LATEST", "TRIM_HORIZON", "AT_TIMESTAMP", "x"]),
    "Enabled": st.booleans(),
    "BisectBatchOnFunctionError": st.booleans(),
    "FunctionResponseTypes": st.sampled_from([[], ["ReportBatchItemFailures"], ["x"]]),
}


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        cli_keys,
        json_values | st.sampled_from(list(valid_values.values())).flatmap(lambda s: s),
        max_size=8,
    )
)
def test_arbitrary_configs_raise_only_config_error(params: dict[str, Any]) -> None:
    try:
        m = EventSourceMapping.from_aws(params)
    except ConfigError as exc:
        assert str(exc)  # a message, one line
        assert "\n" not in str(exc)
        return
    assert EventSourceMapping.from_aws(m.to_aws()) == m


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({}, optional=valid_values))
def test_near_valid_configs_round_trip_or_fail_cleanly(params: dict[str, Any]) -> None:
    try:
        m = EventSourceMapping.from_aws(params)
    except ConfigError:
        return
    again = EventSourceMapping.from_aws(m.to_aws())
    assert again == m and again.to_aws() == m.to_aws()
    for key, value in params.items():
        assert m.to_aws()[key] == value
