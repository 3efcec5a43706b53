"""Stream records: what GetRecords returns, turned into what a Lambda handler receives.

The Lambda event record shape ([D], recorded from real AWS in [R]):
``eventID, eventName, eventVersion "1.1", eventSource "aws:dynamodb", awsRegion (the table's
region), dynamodb {ApproximateCreationDateTime (epoch seconds, a number), Keys, NewImage?,
OldImage?, SequenceNumber, SizeBytes, StreamViewType}, eventSourceARN (the stream ARN)``.
[D] docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from streamsim.errors import EventParseError

#: Lambda's DynamoDB event records carry eventVersion 1.1 (moto's GetRecords says 1.0) [R].
LAMBDA_EVENT_VERSION = "1.1"
#: Compact JSON, one encoder for every record (``json.dumps`` with separators makes a new
#: encoder per call); the same text as ``json.dumps(x, separators=(",", ":"))``.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class StreamRecord:
    """One stream record as read from a shard, with the Lambda-shaped event record.

    ``created_at`` keeps the backend's own precision (moto: milliseconds) for latency
    measurement; the Lambda record carries whole seconds as AWS does.
    """

    shard_id: str
    sequence_number: str
    event_id: str
    event_name: str
    created_at: float
    size_bytes: int
    keys: dict[str, Any]
    event: dict[str, Any] = field(repr=False)

    @property
    def seq(self) -> int:
        """The sequence number as an integer: they order records within a shard."""
        return int(self.sequence_number)

    @cached_property
    def keys_json(self) -> str:
        return keys_json(self.keys)

    @cached_property
    def key_hash(self) -> int:
        """A stable hash of the item key: records of one item share it (parallelization lanes)."""
        return zlib.crc32(self.keys_json.encode())

    @cached_property
    def payload_bytes(self) -> int:
        """The record's size inside an invoke payload (JSON), for the 6 MB cap [D]: exactly
        ``len(json.dumps(event, separators=(",", ":")))``, counted without building the text."""
        return event_json_size(self.event)


def keys_json(keys: dict[str, Any]) -> str:
    """The item key as compact JSON with sorted names (how captures name an item).

    Plain string and number keys (the usual case) are written directly; anything else goes
    through ``json.dumps``, which gives the same text.
    """
    parts = []
    raw = []
    for name in sorted(keys):
        value = keys[name]
        inner = value.get("S")
        kind = "S"
        if inner is None:
            inner, kind = value.get("N"), "N"
        if len(value) != 1 or not isinstance(inner, str):
            break
        parts.append(f'"{name}":{{"{kind}":"{inner}"}}')
        raw.append(name)
        raw.append(inner)
    else:
        if _plain("".join(raw)):
            return "{" + ",".join(parts) + "}"
    return json.dumps(keys, sort_keys=True, separators=(",", ":"))


#: The members of a Lambda DynamoDB event record (``to_lambda_record``) in their order.
_EVENT_MEMBERS = (
    "eventID",
    "eventName",
    "eventVersion",
    "eventSource",
    "awsRegion",
    "dynamodb",
    "eventSourceARN",
)
_PLAIN_MEMBERS = ("eventID", "eventName", "eventVersion", "eventSource", "awsRegion")


def event_json_size(event: dict[str, Any]) -> int:
    """``json_size`` of one Lambda event record, its fixed shape counted directly: the top-level
    strings and the ``dynamodb`` scalars by their text, the images by ``json_size``."""
    ddb = event.get("dynamodb")
    if tuple(event) != _EVENT_MEMBERS or type(ddb) is not dict:
        return json_size(event)
    total = 0
    texts = [event[name] for name in _PLAIN_MEMBERS]
    texts.append(event["eventSourceARN"])
    for name, value in ddb.items():
        if type(value) is str:
            texts.append(value)
            total += 5  # "name":"value" minus the two texts
        else:
            total += 3 + json_size(value)  # "name":value minus the name
        texts.append(name)
    if not all(type(t) is str for t in texts):
        return json_size(event)
    joined = "".join(texts)
    if not _plain(joined):
        return json_size(event)
    # The frame (braces, commas, quoted member names), the six top-level strings' quotes, the
    # dynamodb map's braces and commas, and every text and value counted above.
    return _EVENT_FRAME + 2 * 6 + 2 + max(len(ddb) - 1, 0) + total + len(joined)


#: Braces, commas and quoted names of the seven top-level members of an event record.
_EVENT_FRAME = 2 + len(_EVENT_MEMBERS) - 1 + sum(len(n) + 3 for n in _EVENT_MEMBERS)


def json_size(value: Any) -> int:
    """``len(json.dumps(value, separators=(",", ":")))`` (ASCII-escaped, as the invoke payload is
    measured), counted from the structure: DynamoDB attribute values of plain strings and numbers
    (the usual case) cost no encoding; anything else is encoded (tests compare with json.dumps
    on random records with unicode, escapes and binaries)."""
    kind = type(value)
    if kind is str:
        return len(value) + 2 if _plain(value) else len(_COMPACT.encode(value))
    if kind is dict:
        total = 1 + len(value)  # braces, and a comma between members (n - 1)
        if not value:
            return 2
        plain: list[str] = []
        for name, inner in value.items():
            if type(name) is not str:
                return len(_COMPACT.encode(value))
            # {"S":"text"} / {"N":"1"}: the common attribute value, sized in one step.
            if type(inner) is dict and len(inner) == 1:
                ((tag, text),) = inner.items()
                if type(tag) is str and type(text) is str:
                    plain.append(name)
                    plain.append(tag)
                    plain.append(text)
                    total += 10  # "name":{"tag":"text"} minus the three texts
                    continue
            total += 3 + json_size(inner)  # "name": and the value; the name is in ``plain``
            plain.append(name)
        joined = "".join(plain)
        if _plain(joined):
            return total + len(joined)
        return len(_COMPACT.encode(value))
    if kind is list or kind is tuple:
        return 1 + max(len(value), 1) + sum(json_size(v) for v in value)
    if kind is int or kind is float:
        text = repr(value)
        return len(text) if kind is int or math.isfinite(value) else len(_COMPACT.encode(value))
    return len(_COMPACT.encode(value))


def _plain(text: str) -> bool:
    """True when JSON writes ``text`` unchanged (no quote, backslash, control or non-ASCII)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def to_lambda_record(
    raw: dict[str, Any], *, stream_arn: str, region: str, shard_id: str
) -> StreamRecord:
    """Convert one GetRecords record to the Lambda event record AWS would deliver.

    Smooths backend quirks: ``awsRegion`` is the table's region (moto always says us-east-1),
    ``eventVersion`` is 1.1, ApproximateCreationDateTime becomes epoch seconds.
    """
    try:
        ddb = raw["dynamodb"]
        sequence_number = str(ddb["SequenceNumber"])
        created_at = _epoch_seconds(ddb["ApproximateCreationDateTime"])
        event_name = str(raw["eventName"])
        keys = _binary_as_base64(dict(ddb["Keys"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EventParseError(f"stream record is missing or has a bad field: {exc}") from exc
    dynamodb: dict[str, Any] = {
        # AWS delivers whole seconds for DynamoDB Streams [R]; keep created_at for precision.
        "ApproximateCreationDateTime": float(math.floor(created_at)),
        "Keys": keys,
    }
    for image in ("NewImage", "OldImage"):
        if image in ddb:
            dynamodb[image] = _binary_as_base64(ddb[image])
    dynamodb["SequenceNumber"] = sequence_number
    dynamodb["SizeBytes"] = int(ddb.get("SizeBytes", 0))
    dynamodb["StreamViewType"] = str(ddb.get("StreamViewType", ""))
    event: dict[str, Any] = {
        "eventID": str(raw.get("eventID", "")),
        "eventName": event_name,
        "eventVersion": LAMBDA_EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if raw.get("userIdentity"):
        event["userIdentity"] = raw["userIdentity"]
    return StreamRecord(
        shard_id=shard_id,
        sequence_number=sequence_number,
        event_id=event["eventID"],
        event_name=event_name,
        created_at=created_at,
        size_bytes=dynamodb["SizeBytes"],
        keys=keys,
        event=event,
    )


# ---- AWS item sizes ----------------------------------------------------------------------------
# [DOC-CAP] docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
# (item sizes): names and values in UTF-8 bytes; a number is 1 byte per two significant digits
# plus 1; binary is its raw bytes; null and Boolean 1 byte; a List or Map 3 bytes plus its
# elements, each with 1 byte of overhead. Sets: the documentation says nothing, so the sum of the
# elements (an assumption, docs/aws-fidelity.md). Checked exactly against every SizeBytes in the
# AWS-recorded events (tests/events/, LocalStack snapshots; tests/test_stream_limits.py).


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size by DynamoDB's rules: each attribute's name bytes plus its value's size."""
    total = 0
    if not item:
        return total
    for name, value in item.items():
        total += len(name) if name.isascii() else len(name.encode())
        text = value.get("S")  # the common case first, without the general dispatch
        if text is not None and len(value) == 1:
            total += len(text) if text.isascii() else len(text.encode())
        else:
            total += value_size(value)
    return total


def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value (``{"S": ...}``, ``{"N": ...}``, ...), without its name."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner) if inner.isascii() else len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    raise EventParseError(f"unknown DynamoDB attribute type {kind!r}")


def number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeroes trimmed), plus 1 [DOC-CAP]."""
    mantissa = str(text).lstrip("+-").lower().split("e", 1)[0]
    digits = mantissa.replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    """Raw byte length: a base64 string (as in JSON) is measured decoded [DOC-CAP]."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    text = str(value).rstrip("=")
    return len(text) * 3 // 4


def stream_record_size(
    keys: dict[str, Any],
    new_image: dict[str, Any] | None,
    old_image: dict[str, Any] | None,
    view_type: str,
) -> int:
    """``SizeBytes``: Keys plus the images the view type carries, each sized as an item, no other
    overhead (matches every recorded AWS value; docs/aws-fidelity.md, "Stream record sizes")."""
    size = item_size(keys)
    if new_image is not None and view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        size += item_size(new_image)
    if old_image is not None and view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        size += item_size(old_image)
    return size


def _binary_as_base64(image: dict[str, Any]) -> dict[str, Any]:
    """Binary attributes as the Lambda event carries them: ``B`` a base64 string, ``BS`` a list
    of them ([R] ``"binary_key": {"B": "Zm9vYmFy"}`` for b"foobar"; AttributeValue JSON [API]).
    boto3 hands GetRecords binaries over as bytes; nested M and L are converted too."""
    return {
        # Strings and numbers (the usual case) pass as they are, without a call each.
        name: value if type(value) is dict and ("S" in value or "N" in value) else _attribute(value)
        for name, value in image.items()
    }


def _attribute(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "B" and isinstance(inner, bytes | bytearray):
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS" and isinstance(inner, list):
        return {
            "BS": [
                base64.b64encode(v).decode("ascii") if isinstance(v, bytes | bytearray) else v
                for v in inner
            ]
        }
    if kind == "M" and isinstance(inner, dict):
        return {"M": _binary_as_base64(inner)}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_attribute(v) for v in inner]}
    return value


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"ApproximateCreationDateTime {value!r} is neither a datetime nor a number")
