"""The event source mapping's settings, validated as AWS validates them for a DynamoDB stream.

``EventSourceMapping`` holds the CreateEventSourceMapping parameters that apply to DynamoDB
Streams, under AWS's own names in snake_case, with AWS's defaults and ranges. It reads and writes
exactly the JSON that ``aws lambda create-event-source-mapping --cli-input-json`` takes.
``TriggerTiming`` holds what AWS does not document (poll spacing, retry backoff, timeouts) as
explicit, settable emulator choices.

Sources: [P] docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html · [API] botocore
``lambda/2015-03-31`` CreateEventSourceMappingRequest · [D] …/with-ddb.html · [E]
…/services-dynamodb-errors.html · [S] DynamoDB Streams developer guide · [R] real-AWS recordings
in LocalStack's ``test_lambda_integration_dynamodbstreams.snapshot.json``.

Cross-field rules: botocore's text says "when you set BatchSize to a value greater than 10, you
must set MaximumBatchingWindowInSeconds to at least 1" for streams and SQS, but AWS creates
DynamoDB mappings with BatchSize 100 and a 0 s window (its own defaults) [R], so the rule is not
enforced here. No other cross-field constraint for DynamoDB is documented; AT_TIMESTAMP and
StartingPositionTimestamp are rejected outright.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from streamsim.aws.trigger.filters import MAX_PATTERNS, FilterCriteria
from streamsim.errors import ConfigError


class StartingPosition(str, Enum):
    """Where a new mapping starts reading; AT_TIMESTAMP is not allowed for DynamoDB [P, API]."""

    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"


class FunctionResponseType(str, Enum):
    """The only response type AWS defines: partial batch failures [API, B]."""

    REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


class DestinationType(str, Enum):
    """On-failure destinations a DynamoDB stream mapping accepts: SQS, SNS, S3 [API, E]."""

    SQS = "sqs"
    SNS = "sns"
    S3 = "s3"


@dataclass(frozen=True)
class DestinationConfig:
    """``DestinationConfig.OnFailure.Destination``: where discarded batches are described [E].

    SQS and SNS receive the invocation record; S3 also receives the whole event [E].
    """

    on_failure: str

    def __post_init__(self) -> None:
        _destination_type(self.on_failure)

    @property
    def destination_type(self) -> DestinationType:
        """Which service the ARN names (decides whether the record carries the payload)."""
        return _destination_type(self.on_failure)

    def to_aws(self) -> dict[str, Any]:
        """The CLI/API JSON form."""
        return {"OnFailure": {"Destination": self.on_failure}}


@dataclass(frozen=True, kw_only=True)
class EventSourceMapping:
    """A Lambda event source mapping on a DynamoDB stream, with AWS defaults [P, API].

    Constructing one validates every field; errors are ConfigError naming the AWS parameter, the
    value and what is allowed.
    """

    starting_position: str
    batch_size: int = 100
    maximum_batching_window_in_seconds: int = 0
    parallelization_factor: int = 1
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    bisect_batch_on_function_error: bool = False
    function_response_types: tuple[str, ...] = ()
    destination_config: DestinationConfig | None = None
    filter_criteria: tuple[str, ...] = ()
    tumbling_window_in_seconds: int = 0
    enabled: bool = True
    event_source_arn: str | None = None
    function_name: str | None = None
    #: Parameters AWS accepts for DynamoDB but the emulator does not act on, as
    #: (AWS key, JSON text) pairs so they round-trip through ``to_aws``. See ``warnings``.
    ignored_settings: tuple[tuple[str, str], ...] = ()
    _filters: FilterCriteria = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._set("starting_position", _check_starting_position(self.starting_position))
        for spec in _INT_PARAMS:
            _check_int(spec, getattr(self, spec.field))
        for name, aws_name in (
            ("bisect_batch_on_function_error", "BisectBatchOnFunctionError"),
            ("enabled", "Enabled"),
        ):
            _check_bool(aws_name, getattr(self, name))
        self._set("function_response_types", _check_response_types(self.function_response_types))
        if self.destination_config is not None and not isinstance(
            self.destination_config, DestinationConfig
        ):
            raise ConfigError(
                "destination_config must be a DestinationConfig(on_failure=<ARN>) or None, got "
                f"{_show(self.destination_config)}"
            )
        filters = _check_filters(self.filter_criteria)
        self._set("filter_criteria", filters.patterns)
        self._set("_filters", filters)
        if self.event_source_arn is not None:
            _check_event_source_arn(self.event_source_arn)
        if self.function_name is not None:
            _check_function_name(self.function_name)
        self._set("ignored_settings", _check_ignored(self.ignored_settings))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- derived views

    @property
    def filters(self) -> FilterCriteria:
        """The compiled filter patterns (empty: every record is delivered) [F]."""
        return self._filters

    @property
    def on_failure_destination(self) -> str | None:
        """The on-failure destination ARN, if any [E]."""
        return self.destination_config.on_failure if self.destination_config else None

    @property
    def report_batch_item_failures(self) -> bool:
        """Whether the function may return ``batchItemFailures`` [B]."""
        return FunctionResponseType.REPORT_BATCH_ITEM_FAILURES.value in (
            self.function_response_types
        )

    @property
    def function_short_name(self) -> str | None:
        """The bare function name in ``FunctionName`` (a name, partial ARN or ARN) [API]."""
        if self.function_name is None:
            return None
        match = _FUNCTION_NAME.fullmatch(self.function_name)
        return match.group("name") if match else None

    @property
    def retries_unlimited(self) -> bool:
        """-1: retry until the record expires from the stream (24 h) [P, E]."""
        return self.maximum_retry_attempts == -1

    @property
    def record_age_unlimited(self) -> bool:
        """-1: no age limit beyond the stream's retention [P, E]."""
        return self.maximum_record_age_in_seconds == -1

    @property
    def warnings(self) -> tuple[str, ...]:
        """Settings accepted but not emulated, and other things worth a user's attention."""
        notes = [
            f"{key} is accepted as AWS does but not emulated: {_IGNORED[key]}"
            for key, _ in self.ignored_settings
        ]
        arn = self.on_failure_destination
        if arn is not None and arn.endswith(".fifo"):
            notes.append(
                f"DestinationConfig.OnFailure.Destination {arn} looks like a FIFO queue/topic; "
                "the DynamoDB parameters page names standard SQS queues and SNS topics [P]"
            )
        return tuple(notes)

    # ----------------------------------------------------------------- AWS JSON in and out

    @classmethod
    def from_aws(cls, params: Mapping[str, Any]) -> EventSourceMapping:
        """Read ``create-event-source-mapping --cli-input-json`` JSON (PascalCase keys) [API].

        Keys that do not apply to DynamoDB streams are rejected with a message saying so; keys
        that apply but are not emulated (KMSKeyArn, MetricsConfig, Tags) are kept and listed in
        ``warnings``; unknown keys are rejected.
        """
        if not isinstance(params, Mapping):
            raise ConfigError(
                "An event source mapping config must be a JSON object of "
                f"CreateEventSourceMapping parameters, got {_show(params)}"
            )
        kwargs: dict[str, Any] = {}
        ignored: list[tuple[str, str]] = []
        for key, value in params.items():
            if not isinstance(key, str):
                raise ConfigError(f"Parameter names must be strings, got {_show(key)}")
            if key in _NOT_FOR_DYNAMODB:
                raise ConfigError(
                    f"{key} does not apply to DynamoDB Streams event source mappings "
                    f"({_NOT_FOR_DYNAMODB[key]}) [API]"
                )
            if key in _IGNORED:
                ignored.append((key, _check_ignored_value(key, value)))
            elif key in _SIMPLE_KEYS:
                kwargs[_SIMPLE_KEYS[key]] = value
            elif key == "FunctionResponseTypes":
                kwargs["function_response_types"] = _list_param(key, value)
            elif key == "DestinationConfig":
                kwargs["destination_config"] = _parse_destination_config(value)
            elif key == "FilterCriteria":
                kwargs["filter_criteria"] = _parse_filter_criteria(value)
            else:
                raise ConfigError(
                    f"Unknown parameter {key!r} for CreateEventSourceMapping: DynamoDB stream "
                    f"mappings take {', '.join(sorted([*_SIMPLE_KEYS, *_COMPOUND_KEYS]))}"
                )
        if "starting_position" not in kwargs:
            raise ConfigError(
                "StartingPosition is required for DynamoDB Streams: allowed TRIM_HORIZON, "
                "LATEST [P]"
            )
        return cls(ignored_settings=tuple(ignored), **kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> EventSourceMapping:
        """Read a ``--cli-input-json`` file (a JSON object)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read event source mapping config {file}: {exc}") from None
        except UnicodeDecodeError as exc:  # a binary file: one line, not a traceback
            raise ConfigError(f"{file} is not UTF-8 JSON text: {exc}") from None
        try:
            params = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{file} is not valid JSON: {exc}") from None
        try:
            return cls.from_aws(params)
        except ConfigError as exc:
            raise ConfigError(f"{file}: {exc}") from None

    def to_aws(self) -> dict[str, Any]:
        """The ``--cli-input-json`` form; ``from_aws(m.to_aws()) == m``."""
        out: dict[str, Any] = {}
        if self.event_source_arn is not None:
            out["EventSourceArn"] = self.event_source_arn
        if self.function_name is not None:
            out["FunctionName"] = self.function_name
        out["Enabled"] = self.enabled
        out["BatchSize"] = self.batch_size
        if self.filter_criteria:
            out["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in self.filter_criteria]}
        out["MaximumBatchingWindowInSeconds"] = self.maximum_batching_window_in_seconds
        out["ParallelizationFactor"] = self.parallelization_factor
        out["StartingPosition"] = self.starting_position
        if self.destination_config is not None:
            out["DestinationConfig"] = self.destination_config.to_aws()
        out["MaximumRecordAgeInSeconds"] = self.maximum_record_age_in_seconds
        out["BisectBatchOnFunctionError"] = self.bisect_batch_on_function_error
        out["MaximumRetryAttempts"] = self.maximum_retry_attempts
        out["TumblingWindowInSeconds"] = self.tumbling_window_in_seconds
        out["FunctionResponseTypes"] = list(self.function_response_types)
        for key, text in self.ignored_settings:
            out[key] = json.loads(text)
        return out


@dataclass(frozen=True, kw_only=True)
class TriggerTiming:
    """Emulator timing that AWS does not publish, as explicit, settable choices.

    - ``poll_interval_seconds`` 0.25: Lambda polls each shard 4 times per second [D].
    - Retry backoff (``initial_backoff_seconds`` 1, ``backoff_multiplier`` 2,
      ``max_backoff_seconds`` 300): AWS does not publish its retry intervals; the blog saw
      "increasing intervals". This exponential schedule is our explicit, settable choice.
    - ``function_timeout_seconds`` 3: Lambda's default function timeout [API CreateFunction
      Timeout: "The default is 3 seconds"]; allowed up to 5,400 s (the API's maximum).
    - ``max_payload_bytes`` 6 MiB: the synchronous invoke payload limit, "6 MB" [D, API Invoke].
    - ``record_retention_seconds`` 86,400: stream records live 24 hours [S].
    - ``polling_start_delay_seconds`` 0: how long after the mapping is created (the trigger
      starts) or enabled (``resume``) polling begins. AWS: "During event source mapping
      creation, it may take several minutes to start polling events from the stream … if you
      specify LATEST as the starting position … the event source mapping could miss events"
      (Lambda DG, MSK/Kafka starting-position pages; no DynamoDB figure is published). 0 locally;
      set e.g. 180 in a virtual model to see what LATEST misses.
    """

    poll_interval_seconds: float = 0.25
    initial_backoff_seconds: float = 1.0
    backoff_multiplier: float = 2.0
    max_backoff_seconds: float = 300.0
    function_timeout_seconds: float = 3.0
    max_payload_bytes: int = 6 * 1024 * 1024
    record_retention_seconds: float = 86_400.0
    polling_start_delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        delay = self.polling_start_delay_seconds
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise ConfigError(f"polling_start_delay_seconds={_show(delay)} must be seconds")
        if not (math.isfinite(delay) and delay >= 0):
            raise ConfigError(
                f"polling_start_delay_seconds={delay} is out of range: must be >= 0 (default 0)"
            )
        for name in (
            "poll_interval_seconds",
            "initial_backoff_seconds",
            "max_backoff_seconds",
            "function_timeout_seconds",
            "record_retention_seconds",
        ):
            _check_positive_seconds(name, getattr(self, name))
        if self.function_timeout_seconds > MAX_FUNCTION_TIMEOUT_SECONDS:
            raise ConfigError(
                f"function_timeout_seconds={self.function_timeout_seconds} is out of range: "
                f"allowed up to {MAX_FUNCTION_TIMEOUT_SECONDS} (AWS default 3)"
            )
        multiplier = self.backoff_multiplier
        if isinstance(multiplier, bool) or not isinstance(multiplier, int | float):
            raise ConfigError(f"backoff_multiplier={_show(multiplier)} must be a number")
        if not (math.isfinite(multiplier) and multiplier >= 1):
            raise ConfigError(
                f"backoff_multiplier={multiplier} is out of range: allowed >= 1 (1 = constant "
                "spacing; default 2)"
            )
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            raise ConfigError(
                f"max_backoff_seconds={self.max_backoff_seconds} is below "
                f"initial_backoff_seconds={self.initial_backoff_seconds}"
            )
        size = self.max_payload_bytes
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(
                f"max_payload_bytes={_show(size)} must be a positive integer (AWS: 6 MB)"
            )

    def backoff_delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = the first retry).

        ``initial * multiplier**(n-1)``, capped at ``max_backoff_seconds``.
        """
        if isinstance(retry_number, bool) or not isinstance(retry_number, int):
            raise TypeError(f"retry_number must be an int, got {retry_number!r}")
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1, got {retry_number}")
        try:
            delay = self.initial_backoff_seconds * self.backoff_multiplier ** (retry_number - 1)
        except OverflowError:
            return self.max_backoff_seconds
        return min(delay, self.max_backoff_seconds)


#: CreateFunction ``Timeout`` maximum in botocore's model [API].
MAX_FUNCTION_TIMEOUT_SECONDS = 5400


# --------------------------------------------------------------------------- parameter tables


@dataclass(frozen=True)
class _IntParam:
    field: str
    aws_name: str
    low: int
    high: int
    default: int
    note: str = ""


#: Integer parameters: ranges from botocore's model [API] and the DynamoDB page [P].
_INT_PARAMS = (
    _IntParam("batch_size", "BatchSize", 1, 10_000, 100),
    _IntParam("maximum_batching_window_in_seconds", "MaximumBatchingWindowInSeconds", 0, 300, 0),
    _IntParam("parallelization_factor", "ParallelizationFactor", 1, 10, 1),
    _IntParam("maximum_retry_attempts", "MaximumRetryAttempts", -1, 10_000, -1, "-1 = infinite"),
    _IntParam("maximum_record_age_in_seconds", "MaximumRecordAgeInSeconds", 60, 604_800, -1, "-1"),
    _IntParam("tumbling_window_in_seconds", "TumblingWindowInSeconds", 0, 900, 0),
)

#: CLI keys that map one-to-one onto a field.
_SIMPLE_KEYS = {
    "EventSourceArn": "event_source_arn",
    "FunctionName": "function_name",
    "Enabled": "enabled",
    "BatchSize": "batch_size",
    "MaximumBatchingWindowInSeconds": "maximum_batching_window_in_seconds",
    "ParallelizationFactor": "parallelization_factor",
    "StartingPosition": "starting_position",
    "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
    "BisectBatchOnFunctionError": "bisect_batch_on_function_error",
    "MaximumRetryAttempts": "maximum_retry_attempts",
    "TumblingWindowInSeconds": "tumbling_window_in_seconds",
}
_COMPOUND_KEYS = ("FunctionResponseTypes", "DestinationConfig", "FilterCriteria")

#: Accepted for DynamoDB by AWS, kept for round-trips, not acted on (why, for the warning).
_IGNORED = {
    "KMSKeyArn": "the filter criteria are not encrypted in the emulator",
    "MetricsConfig": "no CloudWatch metrics are emitted",
    "Tags": "the emulated mapping has no ARN to tag",
}

#: CreateEventSourceMapping keys that AWS documents for other event sources only [API, P].
_NOT_FOR_DYNAMODB = {
    "Topics": "Kafka topics: Amazon MSK and self-managed Kafka only",
    "Queues": "Amazon MQ only",
    "SourceAccessConfigurations": "authentication/VPC settings for Kafka and Amazon MQ",
    "SelfManagedEventSource": "self-managed Kafka only",
    "AmazonManagedKafkaEventSourceConfig": "Amazon MSK only",
    "SelfManagedKafkaEventSourceConfig": "self-managed Kafka only",
    "DocumentDBEventSourceConfig": "Amazon DocumentDB only",
    "ScalingConfig": "Amazon SQS only",
    "ProvisionedPollerConfig": "Amazon SQS, Amazon MSK and self-managed Kafka only",
    "LoggingConfig": "Amazon MSK and self-managed Kafka only",
    "StartingPositionTimestamp": "needs StartingPosition AT_TIMESTAMP, which DynamoDB rejects",
}

#: Every key the CLI accepts, so a test can compare with botocore's model.
KNOWN_CLI_KEYS = frozenset([*_SIMPLE_KEYS, *_COMPOUND_KEYS, *_IGNORED, *_NOT_FOR_DYNAMODB])

_REGION = r"(?:(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d)"
_PARTITION = r"aws[a-zA-Z0-9-]*"
_STREAM_ARN = re.compile(
    rf"arn:{_PARTITION}:dynamodb:{_REGION}:\d{{12}}:table/[A-Za-z0-9_.-]{{1,255}}/stream/\S+"
)
_DESTINATION_ARN = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):(?P<service>[a-zA-Z0-9-]+):(?P<region>{_REGION})?:"
    r"(?P<account>\d{12})?:(?P<resource>.*)"
)
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(?:\.fifo)?")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}(?:\.fifo)?")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: botocore's NamespacedFunctionName pattern [API].
_FUNCTION_NAME = re.compile(
    rf"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:{_REGION}:)?(?:\d{{12}}:)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_\.]+)(?::(?:\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
_KMS_KEY_ARN = re.compile(r"(?:arn:(?:aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|")
_METRICS = ("EventCount", "ErrorCount", "KafkaMetrics")


# --------------------------------------------------------------------------- checks


def _check_starting_position(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    allowed = [p.value for p in StartingPosition]
    if value == "AT_TIMESTAMP":
        raise ConfigError(
            'StartingPosition="AT_TIMESTAMP" is not supported for DynamoDB Streams (Kinesis, '
            f"DocumentDB and Kafka only): allowed {', '.join(allowed)} [P, API]"
        )
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(
            f"StartingPosition={_show(value)} is not allowed: allowed {', '.join(allowed)} "
            "(required; no AWS default) [P, API]"
        )
    return value


def _check_int(spec: _IntParam, value: Any) -> None:
    if spec.aws_name == "MaximumRecordAgeInSeconds":
        allowed = f"-1 (infinite) or {spec.low}–{spec.high}"
    elif spec.note:
        allowed = f"{spec.low}–{spec.high} ({spec.note})"
    else:
        allowed = f"{spec.low}–{spec.high}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"{spec.aws_name}={_show(value)} has the wrong type: expected a whole number, "
            f"allowed {allowed} (AWS default {spec.default})"
        )
    in_range = spec.low <= value <= spec.high
    if spec.aws_name == "MaximumRecordAgeInSeconds":
        # botocore's shape says -1..604800, but AWS answers "MaximumRecordAgeInSeconds must be
        # either -1 (forever) or between 60 and 604800 (inclusive)" (hashicorp/
        # terraform-provider-aws#16113, observed against the API).
        in_range = in_range or value == -1
    if not in_range:
        raise ConfigError(
            f"{spec.aws_name}={value} is out of range: allowed {allowed} "
            f"(AWS default {spec.default})"
        )


def _check_bool(aws_name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{aws_name}={_show(value)} has the wrong type: expected true or false")


def _check_response_types(value: Any) -> tuple[str, ...]:
    allowed = FunctionResponseType.REPORT_BATCH_ITEM_FAILURES.value
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f'FunctionResponseTypes={_show(value)} must be a list: [] or ["{allowed}"] [API]'
        )
    items = tuple(v.value if isinstance(v, Enum) else v for v in value)
    if len(items) > 1 or any(item != allowed for item in items):
        raise ConfigError(
            f'FunctionResponseTypes={_show(list(items))} is not allowed: [] or ["{allowed}"] '
            "(at most one item) [API]"
        )
    return items


def _check_filters(value: Any) -> FilterCriteria:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"filter_criteria={_show(value)} must be a list of pattern strings (up to "
            f"{MAX_PATTERNS})"
        )
    return FilterCriteria.parse(list(value))


def _check_event_source_arn(value: Any) -> None:
    if not isinstance(value, str) or not _STREAM_ARN.fullmatch(value):
        raise ConfigError(
            f"EventSourceArn={_show(value)} is not a DynamoDB stream ARN: expected "
            "arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label> [P, API]"
        )


def _check_function_name(value: Any) -> None:
    match = _FUNCTION_NAME.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 1 <= len(value) <= 256:
        raise ConfigError(
            f"FunctionName={_show(value)} is not a Lambda function name or ARN (1–256 "
            "characters; a bare name is letters, digits, '-', '_') [API]"
        )
    if match.group("name") == value and len(value) > 64:
        raise ConfigError(
            f"FunctionName={_show(value)} is {len(value)} characters: a bare function name "
            "is limited to 64 [API]"
        )


def _destination_type(arn: Any) -> DestinationType:
    """Validate an OnFailure destination ARN and name its service [API OnFailure, E]."""
    supported = "an SQS queue, SNS topic or S3 bucket ARN [API, E]"
    if not isinstance(arn, str):
        raise ConfigError(
            f"DestinationConfig.OnFailure.Destination={_show(arn)} must be {supported}"
        )
    if arn.startswith("kafka://"):
        raise ConfigError(
            f"DestinationConfig.OnFailure.Destination={arn} is a Kafka topic: Kafka "
            f"destinations apply to Kafka event source mappings only; use {supported}"
        )
    match = _DESTINATION_ARN.fullmatch(arn) if len(arn) <= 350 else None
    if match is None:
        raise ConfigError(
            f"DestinationConfig.OnFailure.Destination={_show(arn)} is not an ARN "
            f"(at most 350 characters); use {supported}"
        )
    service, region, account, resource = match.group("service", "region", "account", "resource")
    if service == "s3":
        if region or account or not _BUCKET_NAME.fullmatch(resource):
            raise ConfigError(
                f"DestinationConfig.OnFailure.Destination={arn} is not an S3 bucket ARN: "
                "expected arn:aws:s3:::<bucket>"
            )
        return DestinationType.S3
    if service in ("sqs", "sns"):
        name = _QUEUE_NAME if service == "sqs" else _TOPIC_NAME
        what = "queue" if service == "sqs" else "topic"
        if not region or not account or not name.fullmatch(resource):
            raise ConfigError(
                f"DestinationConfig.OnFailure.Destination={arn} is not an {service.upper()} "
                f"{what} ARN: expected arn:aws:{service}:<region>:<account>:<{what}-name>"
            )
        return DestinationType(service)
    raise ConfigError(
        f"DestinationConfig.OnFailure.Destination={arn} names the {service!r} service: "
        f"DynamoDB stream mappings accept {supported}"
    )


def _parse_destination_config(value: Any) -> DestinationConfig | None:
    """``{"OnFailure": {"Destination": arn}}``; ``{}``, ``{"OnFailure": {}}`` or "" mean none."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'DestinationConfig={_show(value)} must be {{"OnFailure": {{"Destination": "<ARN>"}}}}'
        )
    for key in value:
        if key == "OnSuccess":
            raise ConfigError(
                "DestinationConfig.OnSuccess is not supported in CreateEventSourceMapping [API]"
            )
        if key != "OnFailure":
            raise ConfigError(f"DestinationConfig has an unknown key {key!r}: only OnFailure")
    on_failure = value.get("OnFailure", {})
    if not isinstance(on_failure, Mapping) or any(k != "Destination" for k in on_failure):
        raise ConfigError(
            f'DestinationConfig.OnFailure={_show(on_failure)} must be {{"Destination": "<ARN>"}}'
        )
    destination = on_failure.get("Destination")
    if destination is None or destination == "":
        return None  # [E]: an empty string removes the destination
    return DestinationConfig(on_failure=destination)


def _parse_filter_criteria(value: Any) -> tuple[str, ...]:
    """``{"Filters": [{"Pattern": "<json>"}, ...]}``; ``{}`` means no filtering [F]."""
    shape = '{"Filters": [{"Pattern": "<JSON string>"}]}'
    if not isinstance(value, Mapping) or any(k != "Filters" for k in value):
        raise ConfigError(f"FilterCriteria={_show(value)} must be {shape}")
    filters = value.get("Filters", [])
    if not isinstance(filters, list):
        raise ConfigError(f"FilterCriteria.Filters={_show(filters)} must be a list: {shape}")
    patterns = []
    for number, item in enumerate(filters, start=1):
        if not isinstance(item, Mapping) or set(item) != {"Pattern"}:
            raise ConfigError(
                f"FilterCriteria.Filters item {number}={_show(item)} must be "
                '{"Pattern": "<JSON string>"}'
            )
        patterns.append(item["Pattern"])
    return tuple(patterns)


def _list_param(key: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}={_show(value)} must be a list")
    return tuple(value)


def _check_ignored(pairs: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(pairs, tuple):
        raise ConfigError("ignored_settings must be a tuple of (AWS key, JSON text) pairs")
    checked = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and pair[0] in _IGNORED):
            raise ConfigError(
                f"ignored_settings entry {_show(pair)} must be (key, JSON text) with key one of "
                f"{', '.join(_IGNORED)}"
            )
        key, text = pair
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            raise ConfigError(f"ignored_settings {key} must hold JSON text") from None
        checked.append((key, _check_ignored_value(key, value)))
    return tuple(checked)


def _check_ignored_value(key: str, value: Any) -> str:
    """Validate the shape of an accepted-but-ignored parameter [API]; return canonical JSON."""
    if key == "KMSKeyArn":
        if not isinstance(value, str) or not _KMS_KEY_ARN.fullmatch(value) or len(value) > 10000:
            raise ConfigError(f"KMSKeyArn={_show(value)} is not a KMS key ARN [API]")
    elif key == "MetricsConfig":
        metrics = value.get("Metrics", []) if isinstance(value, Mapping) else None
        if (
            not isinstance(value, Mapping)
            or any(k != "Metrics" for k in value)
            or not isinstance(metrics, list)
            or len(metrics) > 3
            or any(m not in _METRICS for m in metrics)
        ):
            raise ConfigError(
                f'MetricsConfig={_show(value)} must be {{"Metrics": [...]}} with up to three '
                f"of {', '.join(_METRICS)} [API]"
            )
    elif key == "Tags":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and 1 <= len(k) <= 128 and isinstance(v, str) and len(v) <= 256
            for k, v in value.items()
        ):
            raise ConfigError(
                f"Tags={_show(value)} must map tag keys (1–128 chars) to string values "
                "(up to 256 chars) [API]"
            )
    return json.dumps(value, sort_keys=True)


def _check_positive_seconds(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name}={_show(value)} must be a number of seconds")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name}={value} is out of range: must be a positive, finite number")


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
