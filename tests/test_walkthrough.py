"""The blog, reproduced: two live events with the images the blog shows, then the mistake."""

from __future__ import annotations

import pytest

from streamsim.workbench.walkthrough import run_walkthrough


@pytest.mark.slow
def test_walkthrough_shows_the_blogs_two_events_then_24_hours_of_retries(backend) -> None:
    lines: list[str] = []
    result = run_walkthrough(backend, out=lines.append)
    events = result.events
    assert [e["eventName"] for e in events] == ["INSERT", "MODIFY"]
    insert, modify = (e["dynamodb"] for e in events)
    assert insert["NewImage"] == {"JansPartition": {"S": "hello world"}}
    assert "OldImage" not in insert
    assert modify["OldImage"] == {"JansPartition": {"S": "hello world"}}
    assert modify["NewImage"] == {
        "JansPartition": {"S": "hello world"},
        "moreData": {"S": "hello again"},
    }
    assert all(e["awsRegion"] == "eu-central-1" for e in events)
    # Log lines printed as they came, in the blog's handler's words.
    text = "\n".join(lines)
    assert text.count("Received event: {") == 2
    assert text.count("do something useful") == 2
    assert "Cannot update attribute JansPartition" in (result.key_update_error or "")
    # The mistake: retried with growing intervals until the records expire at 24 h.
    waits = result.retries["waited_seconds"].tolist()
    assert waits[:10] == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert set(waits[10:]) == {300}
    assert (result.retries["outcome"] == "error").all()
    assert 23.9 < result.retries["hours_after_write"].iloc[-1] < 24
    assert set(result.dispositions["disposition"]) == {"discarded"}
    assert set(result.dispositions["condition"]) == {"RecordAgeExceeded"}
    assert len(result.dispositions) == 2


def test_a_second_walkthrough_on_a_shared_server_says_it_reuses_jans_table(backend) -> None:
    first: list[str] = []
    second: list[str] = []
    run_walkthrough(backend, out=first.append, retries=False)
    run_walkthrough(backend, out=second.append, retries=False)
    assert any(line.startswith("1. Created JansTable") for line in first), first
    assert any(line.startswith("1. Using the existing JansTable") for line in second), second


def test_a_jans_table_without_a_stream_is_one_line_and_status_2(backend, capsys) -> None:  # type: ignore[no-untyped-def]
    from streamsim.workbench.cli import main

    backend.client("dynamodb").create_table(
        TableName="JansTable",
        KeySchema=[{"AttributeName": "JansPartition", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "JansPartition", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    argv = ["walkthrough", "--no-retries", "--endpoint-url", backend.endpoint_url]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "without a stream" in err[0], err
