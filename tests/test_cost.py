"""The cost model: hand-computed figures, the 30-day month, the prices' date, bad input refused."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest
import tomllib

from streamsim.errors import ConfigError
from streamsim.workbench.cost import ITEMS, MONTH_SECONDS, Workload, estimate, load_prices

#: 10 plays/s; a batch of 100 plays per invocation; 1 ms of a 1 GB function per play.
WORKLOAD = Workload(
    plays_per_second=10,
    write_units_per_play=1,
    read_units_per_play=2,
    invocations_per_play=0.01,
    lambda_gb_seconds_per_play=0.001,
    destination_messages_per_play=0.001,
)


def test_us_east_1_figures_by_hand() -> None:
    frame = estimate(WORKLOAD, load_prices("us-east-1"))
    assert list(frame.index) == list(ITEMS)
    assert list(frame.columns) == ["usd_per_million_plays", "usd_per_month"]
    # per million plays: units per play x USD per million units
    expected_per_million = {
        "DynamoDB writes": 0.625,  # 1 x $0.625
        "DynamoDB reads": 0.25,  # 2 x $0.125
        "Streams reads": 0.0,  # free for a Lambda trigger
        "Lambda requests": 0.002,  # 0.01 x $0.20
        "Lambda compute": 0.0166667,  # 0.001 GB-s x 1e6 x $0.0000166667
        "SQS on-failure": 0.0004,  # 0.001 x $0.40
    }
    # 10 plays/s x 2,592,000 s = 25.92 million plays a month
    expected_month = {
        "DynamoDB writes": 16.20,
        "DynamoDB reads": 6.48,
        "Streams reads": 0.0,
        "Lambda requests": 0.05184,
        "Lambda compute": 0.43200086,
        "SQS on-failure": 0.010368,
    }
    for item in ITEMS:
        assert frame.loc[item, "usd_per_million_plays"] == pytest.approx(
            expected_per_million[item]
        ), item
        assert frame.loc[item, "usd_per_month"] == pytest.approx(expected_month[item]), item
    assert frame.attrs["note"] == "estimate, prices of 2025-08"
    assert frame.attrs["region"] == "us-east-1"


def test_month_is_30_days_and_scales_with_the_rate() -> None:
    assert MONTH_SECONDS == 2_592_000
    prices = load_prices()
    one = estimate(replace(WORKLOAD, plays_per_second=1), prices)
    three = estimate(replace(WORKLOAD, plays_per_second=3), prices)
    assert list(three["usd_per_month"]) == pytest.approx(list(3 * one["usd_per_month"]))
    assert list(three["usd_per_million_plays"]) == list(one["usd_per_million_plays"])


def test_eu_central_1_uses_its_own_dynamodb_prices() -> None:
    frame = estimate(WORKLOAD, load_prices("eu-central-1"))
    assert frame.loc["DynamoDB writes", "usd_per_million_plays"] == pytest.approx(0.7625)
    assert frame.loc["DynamoDB reads", "usd_per_million_plays"] == pytest.approx(0.305)
    assert frame.loc["Streams reads", "usd_per_month"] == 0.0


def test_every_price_has_a_date_and_a_source() -> None:
    for region in ("us-east-1", "eu-central-1"):
        prices = load_prices(region)
        for key, price in prices.items.items():
            assert price.date and price.source, (region, key)


def test_unknown_region_names_it_and_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"'mars-1'.*eu-central-1, us-east-1"):
        load_prices("mars-1")


def test_a_missing_price_is_an_error_not_a_zero(tmp_path) -> None:
    path = tmp_path / "prices.json"
    doc = json.loads(resources.files("streamsim.workbench").joinpath("prices.json").read_text())
    doc["regions"]["us-east-1"]["lambda_request"]["usd"] = None
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="no price for lambda_request in us-east-1"):
        estimate(WORKLOAD, load_prices("us-east-1", path))


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), True, "3"])
def test_bad_workload_numbers_are_refused(bad) -> None:
    with pytest.raises(ConfigError, match="plays_per_second"):
        replace(WORKLOAD, plays_per_second=bad)


def test_the_price_file_ships_with_the_package() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "prices.json" in pyproject["tool"]["setuptools"]["package-data"]["streamsim.workbench"]
