"""Notebook 06's experiments: the ramp finds saturation, the poison comparison, strategy costs."""

from __future__ import annotations

import math

import pandas as pd

from streamsim.workbench.scale import experiments as x


def test_a_ramp_grows_past_a_lanes_capacity_and_not_below_it() -> None:
    # BatchSize 10 on one shard: 0.05 s + 10 ms per record = 10 records per 0.06 s, ~167/s.
    ramp = x.rate_ramp([50, 800], [(10, 1), (100, 4)], seconds=4.0, shards=1)
    grows = ramp.set_index(["BatchSize", "rate"])["grows"]
    assert not grows[(10, 50.0)] and grows[(10, 800.0)]
    assert not grows[(100, 800.0)]  # 4 lanes of 100: plenty
    assert (ramp["lost"] == 0).all()
    table = x.saturation(ramp).set_index("BatchSize")
    assert table.loc[10, "keeps_up_at"] == 50 and table.loc[10, "grows_from"] == 800
    assert table.loc[100, "keeps_up_at"] == 800 and math.isnan(table.loc[100, "grows_from"])


def test_the_ramp_finding_has_both_wordings() -> None:
    table = pd.DataFrame(
        [
            {
                "BatchSize": 10,
                "ParallelizationFactor": 1,
                "keeps_up_at": 100.0,
                "grows_from": 400.0,
            },
            {
                "BatchSize": 100,
                "ParallelizationFactor": 4,
                "keeps_up_at": 3200.0,
                "grows_from": math.nan,
            },
            {
                "BatchSize": 1,
                "ParallelizationFactor": 1,
                "keeps_up_at": math.nan,
                "grows_from": 50.0,
            },
        ]
    )
    lines = x.ramp_finding(table, 2).splitlines()
    assert "keeps up at 100 plays/s; IteratorAge grows from 400 plays/s" in lines[0]
    assert "IteratorAge stays flat at every rate tried" in lines[1]
    assert "falls behind at every rate tried" in lines[2]
    assert "(2 shards)" in lines[0]


def _row(**changes):  # type: ignore[no-untyped-def]
    base = {
        "plays": 1000,
        "processed": 1000,
        "sent_to_destination": 0,
        "lost": 0,
        "delayed > 60 s": 0,
        "max_wait_s": 3.2,
    }
    return pd.Series({**base, **changes})


def test_the_poison_finding_turns_with_the_data() -> None:
    good = x.poison_finding(_row(sent_to_destination=5), "recommended", 60)
    assert "every play of 1,000 was finished under 3.5 seconds" in good
    assert "no play was lost, 5 plays on the on-failure queue" in good
    bad = x.poison_finding(_row(lost=145, **{"delayed > 60 s": 16}, max_wait_s=86_500.0), "d", 60)
    assert "16 plays of 1,000 waited longer than 1 minute" in bad
    assert "more than 1 day" in bad and "145 plays lost" in bad


def test_poison_at_scale_accounts_for_every_play() -> None:
    results = x.poison_at_scale(
        rate=50.0, seconds=2.0, retries=1, queue_arn="arn:aws:sqs:eu-central-1:000000000000:q"
    )
    table = x.poison_table(results, 60.0)
    assert (
        table["processed"] + table["sent_to_destination"] + table["lost"] == table["plays"]
    ).all()
    assert (
        table.loc["recommended", "lost"] == 0
        and table.loc["recommended", "sent_to_destination"] >= 1
    )
    # Under the defaults the poison play is retried until it expires and is lost.
    assert table.loc["AWS defaults", "lost"] >= 1
    assert table.loc["AWS defaults", "max_wait_s"] > 23 * 3600


def test_the_cost_finding_names_the_cheaper_strategy() -> None:
    costs = pd.DataFrame(
        {"read-all": [10.0, 5000.0], "incremental": [20.0, 300.0]}, index=["a", "b"]
    )
    costs.loc["total"] = costs.sum()
    costs.attrs["note"] = "estimate, prices of 2025-08"
    text = x.cost_finding(costs)
    assert "**incremental** costs about $320 a month against $5,010 for read-all" in text
    assert "15.6 times less" in text and "prices of 2025-08" in text
    flipped = costs[["incremental", "read-all"]].set_axis(["read-all", "incremental"], axis=1)
    assert "**read-all** costs about $320" in x.cost_finding(flipped)
    same = pd.DataFrame({"read-all": [5.0], "incremental": [5.0]}, index=["total"])
    assert x.cost_finding(same).startswith("Both strategies cost about $5")
