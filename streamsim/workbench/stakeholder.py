"""The stakeholder report (notebook 05): gather the data, then every section's words from it.

``gather`` runs what the report stands on: a live run (speed), one bad play simulated under
AWS's default and the recommended settings (failures), and the badge rules on a synthetic
population (badges). ``sections`` turns that into Markdown through ``findings`` only: the
notebook displays it and types no finding itself, so the page is true for the data it was
made from (``tests/test_findings.py`` feeds contrasting data and checks the words turn).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from streamsim.workbench import findings
from streamsim.workbench.runfolder import Run

QUEUE_ARN = "arn:aws:sqs:eu-central-1:000000000000:badges-on-failure"
DEFAULT, RECOMMENDED = "AWS default settings", "Recommended settings"


def recommended_settings(retries: int, queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """The recommendation, as event source mapping JSON (AWS names)."""
    return {
        "MaximumRetryAttempts": retries,
        "BisectBatchOnFunctionError": True,
        "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
    }


@dataclass
class ReportData:
    """Everything the report's sentences are computed from."""

    live: Run
    server: str
    players: int
    days: int
    rate: float
    target_seconds: float
    propagation_seconds: float
    failure_runs: dict[str, Run]
    recommended: dict[str, Any]
    delayed_after_seconds: float
    badges: pd.DataFrame
    population_players: int
    population_days: int

    @property
    def measured(self) -> pd.Series:
        from streamsim.workbench.analysis import latency_percentiles

        return latency_percentiles(self.live).loc["write_to_processed"]

    @property
    def expected(self) -> dict[str, float]:
        from streamsim.workbench.analysis import project_to_aws

        projected = project_to_aws(self.live, self.propagation_seconds)
        values = projected["projected_write_to_processed"]
        return {f"p{p}": float(values.quantile(p / 100)) for p in (50, 95, 99)}

    @property
    def failures(self) -> pd.DataFrame:
        from streamsim.workbench.analysis import failure_comparison

        return failure_comparison(self.failure_runs, self.delayed_after_seconds)


def gather(
    *,
    endpoint_url: str | None,
    region: str,
    players: int,
    days: int,
    rate: float,
    seed: int,
    target_seconds: float,
    propagation_seconds: float,
    population_players: int,
    population_days: int,
    failure: dict[str, Any],
    retries: int,
    delayed_after_seconds: float = 60.0,
) -> ReportData:
    """Run the live test, the failure simulations and the badge population."""
    from streamsim.aws.backend import open_backend
    from streamsim.aws.trigger.config import EventSourceMapping
    from streamsim.game.badges import DEFAULT_RULES, evaluate_batch
    from streamsim.workbench.analysis import badge_rate_table
    from streamsim.workbench.run import run_pipeline
    from streamsim.workbench.runconfig import RunConfig
    from streamsim.workbench.runfolder import load_run
    from streamsim.workbench.traffic import Population, PopulationConfig
    from streamsim.workbench.virtual import Scenario, simulate

    with open_backend(endpoint_url, region) as backend, tempfile.TemporaryDirectory() as folder:
        config = RunConfig(players=players, days=days, rate=rate, seed=seed)
        live = load_run(run_pipeline(config, backend, out_dir=folder).path)
        server = f"{backend.info.name} {backend.info.version}"
    recommended = recommended_settings(retries)
    scenario = Scenario(**failure)
    start = {"StartingPosition": "TRIM_HORIZON"}
    failure_runs = {
        DEFAULT: simulate(replace(scenario, mapping=EventSourceMapping.from_aws(start))),
        RECOMMENDED: simulate(
            replace(scenario, mapping=EventSourceMapping.from_aws({**start, **recommended}))
        ),
    }
    population = PopulationConfig(players=population_players, days=population_days, seed=seed)
    plays = Population.generate(population).plays_frame()
    active = int(plays["player_id"].nunique())
    rates = badge_rate_table(evaluate_batch(plays, DEFAULT_RULES), DEFAULT_RULES, active)
    return ReportData(
        live, server, players, days, rate, target_seconds, propagation_seconds, failure_runs,
        recommended, delayed_after_seconds, findings.label_badges(rates, population_days),
        active, population_days,
    )  # fmt: skip


def sections(data: ReportData) -> dict[str, str]:
    """Markdown per section of the report, every finding from ``findings``."""
    from streamsim.workbench.analysis import accounting

    speed = findings.speed(
        data.measured, data.expected, data.target_seconds, data.propagation_seconds
    )
    table = data.failures
    default, better = table.loc[DEFAULT], table.loc[RECOMMENDED]
    changed = findings.settings_changed(data.recommended)
    bad = findings.bad_plays(data.failure_runs[DEFAULT])
    failure = findings.failures(default, better, changed, bad, data.delayed_after_seconds)
    badges = findings.badges(data.badges, data.population_days)
    window = f"{data.population_players} synthetic players, {data.population_days} days"
    return {
        "method": findings.method(data.population_days, data.days, data.players),
        "summary": "## In short\n\n" + findings.bullets([speed, failure, badges]),
        "speed": findings.sees_badge(data.expected, data.target_seconds),
        "accounting": findings.accounting_sentence(accounting(data.live), data.players, data.rate),
        "failures": failure.text,
        "badges": badges.text + f" ({window}.)",
        "recommendations": findings.recommendations(
            speed, failure, changed, default, data.target_seconds
        ),
        "how": how_made(data),
    }


def how_made(data: ReportData) -> str:
    """The method section: what was measured where, and the assumptions stated."""
    return (
        "## How these figures were made\n\n"
        f"- Speed was measured on a local DynamoDB-compatible server ({data.server}) with this "
        f"machine's clock: {data.players} synthetic players, {data.days} days of play, written at "
        f"{data.rate:g} plays per second. The projection to AWS keeps everything after the change "
        "reaches the stream as measured, and replaces the local stream delay by an assumption of "
        f"{findings.duration_words(data.propagation_seconds)}: AWS publishes no figure. On AWS the "
        "badge program's own database calls will take a different time; measure it there.\n"
        "- The failure case ran in a simulation (a virtual clock, so a day of retries takes a "
        "second), with the same trigger logic and AWS's setting names; the wait between retries "
        "is our choice, since AWS does not publish it.\n"
        f"- Badge shares come from {data.population_players} synthetic players over "
        f"{data.population_days} days: their habits are assumptions, so the shares show the "
        "method, not our players' real behaviour."
    )


def speed_table(data: ReportData) -> pd.DataFrame:
    """Measured and expected delays (s, 2 decimals), as the report's table shows them."""
    return pd.DataFrame(
        {
            "measured on our machine (s)": [data.measured[f"p{p}"] for p in (50, 95, 99)],
            "expected on AWS (s)": [data.expected[f"p{p}"] for p in (50, 95, 99)],
        },
        index=["half of the plays", "95 in 100 plays", "99 in 100 plays"],
    ).round(2)
