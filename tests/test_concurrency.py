"""moto's server races under concurrent requests (docs/backends.md); the embedded server
serialises them. Concurrent writers and a poller: every record exactly once, in per-item order."""

from __future__ import annotations

import sys
import threading

import pytest

from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.tables import TableSpec, create_table

WRITERS = 8
ITEMS = 4
UPDATES_PER_WRITER = 10


@pytest.mark.slow
def test_concurrent_writers_and_a_poller_see_every_record_once_in_item_order(backend) -> None:
    dynamodb = backend.client("dynamodb")
    arn = create_table(dynamodb, TableSpec("Race", ("pk", "S"), None, "NEW_AND_OLD_IMAGES"))  # type: ignore[arg-type]
    reader = StreamReader(backend.client("dynamodbstreams"), arn)
    (shard,) = reader.shards()
    cursor = reader.cursor(shard)
    seen = []
    done = threading.Event()
    errors: list[BaseException] = []

    def write(w: int) -> None:
        client = backend.client("dynamodb")
        try:
            for _ in range(UPDATES_PER_WRITER):
                for i in range(ITEMS):
                    # Every writer updates the same items: lost updates would show here.
                    client.update_item(
                        TableName="Race",
                        Key={"pk": {"S": f"item-{i}"}},
                        UpdateExpression="ADD n :one",
                        ExpressionAttributeValues={":one": {"N": "1"}},
                    )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    # Switch threads very often, as a loaded machine would: without the server's
    # one-request-at-a-time lock this shows duplicate sequence numbers in every run tried.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            seen.extend(cursor.read())
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    done.set()
    for _ in range(3):
        seen.extend(cursor.read())
    assert not errors
    seqs = [r.sequence_number for r in seen]
    assert len(seqs) == len(set(seqs)), "a sequence number was seen twice"
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs)
    by_item: dict[str, list[int]] = {}
    for r in seen:
        image = r.event["dynamodb"]["NewImage"]
        if "n" in image:  # moto's UpdateItem-creates-item quirk: a key-only INSERT first
            by_item.setdefault(r.keys["pk"]["S"], []).append(int(image["n"]["N"]))
    assert len(by_item) == ITEMS
    for item, counts in by_item.items():
        expected = list(range(1, WRITERS * UPDATES_PER_WRITER + 1))
        assert counts == expected, f"{item}: lost, repeated or reordered updates {counts}"
