"""``json_size`` is exactly the length of the compact JSON the invoke payload carries."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest

from streamsim.aws.stream.records import json_size, to_lambda_record

ALPHABET = ["a", "Z", "0", " ", '"', "\\", "\n", "\t", "\x01", "é", "€", "😀", "/", "#", ":"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12)))


def _value(rng: random.Random, depth: int = 0) -> dict[str, object]:
    kind = rng.choice(["S", "S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L"])
    if kind in ("M", "L") and depth > 2:
        kind = "S"
    if kind == "S":
        return {"S": _text(rng)}
    if kind == "N":
        return {"N": str(rng.choice([0, 7, -3, 1.5, 10**20, 123456789]))}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(rng.randrange(0, 9)))}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "SS":
        return {"SS": [_text(rng) for _ in range(rng.randrange(1, 4))]}
    if kind == "NS":
        return {"NS": [str(rng.randrange(1000)) for _ in range(rng.randrange(1, 4))]}
    if kind == "BS":
        return {"BS": [bytes([rng.randrange(256)]) for _ in range(rng.randrange(1, 4))]}
    if kind == "M":
        return {"M": {_text(rng) or "k": _value(rng, depth + 1) for _ in range(rng.randrange(3))}}
    return {"L": [_value(rng, depth + 1) for _ in range(rng.randrange(3))]}


@pytest.mark.parametrize("seed", range(40))
def test_json_size_of_a_built_lambda_event_equals_json_dumps(seed: int) -> None:
    rng = random.Random(seed)
    keys = {"pk": {"S": _text(rng) or "x"}, "sk": {"N": str(rng.randrange(10**6))}}
    image = {(_text(rng) or "a") + str(i): _value(rng) for i in range(rng.randrange(0, 10))}
    raw = {
        "eventID": "e" * 32,
        "eventName": rng.choice(["INSERT", "MODIFY", "REMOVE"]),
        "dynamodb": {
            "ApproximateCreationDateTime": datetime.fromtimestamp(
                1.7e9 + rng.random() * 1e6, timezone.utc
            ),
            "Keys": keys,
            "NewImage": {**keys, **image},
            "SequenceNumber": str(10**20 + rng.randrange(10**6)),
            "SizeBytes": rng.randrange(10**5),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    record = to_lambda_record(
        raw,
        stream_arn="arn:aws:dynamodb:eu-central-1:1:table/T/stream/x",
        region="eu-central-1",
        shard_id="s",
    )
    assert record.payload_bytes == len(json.dumps(record.event, separators=(",", ":")))
    assert json_size(record.event) == len(json.dumps(record.event, separators=(",", ":")))


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        "",
        "é",
        {"a": []},
        {"a": {"S": "x"}, "b": [1, 2.5, None, True, False]},
        {"\u2028": {"S": "\x00"}},
        {"a": {"S": 1}},
        float("nan"),
        [{"S": "x"}, {"N": "1"}],
        ("t", 1),
    ],
)
def test_json_size_on_edge_values(value: object) -> None:
    assert json_size(value) == len(json.dumps(value, separators=(",", ":")))
