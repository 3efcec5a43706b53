"""What the pipeline costs on AWS, per million plays and per month: an estimate, with its prices' date.

The pipeline bills for DynamoDB request units (writes and reads, on-demand), Lambda requests and
compute (GB-seconds), and messages sent to the on-failure queue. Stream reads (GetRecords) made
by a Lambda trigger are free ("You are not charged for GetRecords API calls invoked by AWS Lambda
as part of DynamoDB triggers": aws.amazon.com/dynamodb/pricing; Developer Guide,
CostOptimization_StreamsUsage), so that row is always 0: it is listed so nobody adds it twice.

Prices live in one data file (``prices.json``, shipped with the package) with a date and a source
per price. Not modelled: free tiers, storage, data transfer, CloudWatch, reading and deleting the
on-failure messages, provisioned capacity. A month is 30 days (2,592,000 s).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from streamsim.errors import ConfigError

#: Seconds in the month the estimate uses: 30 days.
MONTH_SECONDS = 30 * 24 * 3600
#: The rows of an estimate, in order.
ITEMS = (
    "DynamoDB writes",
    "DynamoDB reads",
    "Streams reads",
    "Lambda requests",
    "Lambda compute",
    "SQS on-failure",
)
_PRICE_KEYS = (
    "dynamodb_write_request_unit",
    "dynamodb_read_request_unit",
    "streams_read_request_unit",
    "lambda_request",
    "lambda_gb_second_x86",
    "sqs_standard_request",
)


@dataclass(frozen=True)
class Price:
    """One price: ``usd`` for ``per`` units (None: not found), with its date and source."""

    usd: float | None
    per: float
    date: str
    source: str

    @property
    def per_unit(self) -> float | None:
        """USD for one unit."""
        return None if self.usd is None else self.usd / self.per


@dataclass(frozen=True)
class Prices:
    """The prices of one region, by item key (``dynamodb_write_request_unit``, ...)."""

    region: str
    items: dict[str, Price]

    @property
    def date(self) -> str:
        """The oldest date among the prices: the estimate is no newer than that."""
        return min(p.date for p in self.items.values())

    def per_unit(self, key: str) -> float:
        """USD for one unit of ``key``; an unknown price is an error, not a zero."""
        price = self.items[key].per_unit
        if price is None:
            raise ConfigError(f"no price for {key} in {self.region}: {self.items[key].source}")
        return price


@dataclass(frozen=True)
class Workload:
    """What one play costs in billable units, and how many plays a second arrive."""

    plays_per_second: float
    write_units_per_play: float
    read_units_per_play: float
    invocations_per_play: float
    lambda_gb_seconds_per_play: float
    destination_messages_per_play: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(f"{f.name} must be a finite number >= 0, got {value!r}")


def load_prices(region: str = "us-east-1", path: Path | None = None) -> Prices:
    """The prices of ``region`` from the package's price file (or ``path``)."""
    if path is None:
        text = resources.files("streamsim.workbench").joinpath("prices.json").read_text()
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read price file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
        regions: dict[str, Any] = data["regions"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"price file {path or 'prices.json'} is not a prices document") from None
    if region not in regions:
        known = ", ".join(sorted(regions))
        raise ConfigError(f"no prices for region {region!r}; known regions: {known}")
    try:
        items = {
            key: Price(
                usd=None if raw["usd"] is None else float(raw["usd"]),
                per=float(raw["per"]),
                date=str(raw["date"]),
                source=str(raw["source"]),
            )
            for key, raw in regions[region].items()
        }
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"prices of {region} need usd, per, date and source each") from None
    missing = [k for k in _PRICE_KEYS if k not in items]
    if missing:
        raise ConfigError(f"prices of {region} lack {', '.join(missing)}")
    return Prices(region=region, items=items)


def estimate(workload: Workload, prices: Prices) -> pd.DataFrame:
    """Cost per item: columns ``usd_per_million_plays`` and ``usd_per_month`` (30-day month).

    ``attrs["note"]`` says it is an estimate and the prices' date; ``attrs["region"]`` the region.
    """
    per_play = {
        "DynamoDB writes": workload.write_units_per_play
        * prices.per_unit("dynamodb_write_request_unit"),
        "DynamoDB reads": workload.read_units_per_play
        * prices.per_unit("dynamodb_read_request_unit"),
        # Free when made by a Lambda trigger: the only reader the deployed stack has.
        "Streams reads": 0.0,
        "Lambda requests": workload.invocations_per_play * prices.per_unit("lambda_request"),
        "Lambda compute": workload.lambda_gb_seconds_per_play
        * prices.per_unit("lambda_gb_second_x86"),
        "SQS on-failure": workload.destination_messages_per_play
        * prices.per_unit("sqs_standard_request"),
    }
    plays_per_month = workload.plays_per_second * MONTH_SECONDS
    frame = pd.DataFrame(
        {
            "usd_per_million_plays": [per_play[i] * 1e6 for i in ITEMS],
            "usd_per_month": [per_play[i] * plays_per_month for i in ITEMS],
        },
        index=pd.Index(list(ITEMS), name="item"),
    )
    frame.attrs["note"] = f"estimate, prices of {prices.date}"
    frame.attrs["region"] = prices.region
    return frame
