"""Every sentence of the report is computed: contrasting data gives contrasting words."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from streamsim import EventSourceMapping, Scenario, simulate
from streamsim.game.badges import Comeback, DailyStreak, FirstPlay, TotalPlays
from streamsim.workbench import analysis, findings, stakeholder

# ---- bounds round the safe way -----------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "under", "more"),
    [
        (3.40, "under 3.5 seconds", "more than 3 seconds"),
        (3.5, "under 4 seconds", "more than 3 seconds"),
        (0.31, "under 0.35 seconds", "more than 0.3 seconds"),
        (59.0, "under 1 minute", "more than 50 seconds"),
        (86_396.0, "under 1 day", "more than 23 hours"),
        (90_000.0, "under 1.5 days", "more than 1 day"),
    ],
)
def test_bounds_are_rounded_in_the_safe_direction(seconds: float, under: str, more: str) -> None:
    assert findings.under(seconds) == under
    assert findings.more_than(seconds) == more
    assert findings.upper_bound(seconds) > seconds > findings.lower_bound(seconds)


def test_a_bound_is_true_for_many_values() -> None:
    for value in [i / 7 for i in range(1, 2000)] + [i * 97.0 for i in range(1, 3000)]:
        assert findings.upper_bound(value) > value
        assert findings.lower_bound(value) < value


@pytest.mark.parametrize(
    ("share", "words"),
    [(0, "none"), (0.004, "under 1%"), (0.12, "12%"), (0.995, "over 99%"), (1, "all")],
)
def test_shares_never_round_to_a_false_none_or_all(share: float, words: str) -> None:
    assert findings.share_words(share) == words


# ---- speed: fast / slow -----------------------------------------------------------------


def test_speed_says_fast_or_not_fast_enough_with_the_margin() -> None:
    fast = findings.speed({"p50": 0.3, "p99": 0.4}, {"p50": 0.8, "p99": 0.9}, 5.0, 0.5)
    near = findings.speed({"p50": 2.0, "p99": 3.4}, {"p50": 2.5, "p99": 3.9}, 5.0, 0.5)
    slow = findings.speed({"p50": 4.0, "p99": 9.0}, {"p50": 4.5, "p99": 9.5}, 5.0, 0.5)
    assert fast.good and "fast enough" in fast.headline and "not" not in fast.headline
    assert "well within our target" in fast.text
    assert near.good and "within our target" in near.text and "well within" not in near.text
    assert "under 3.5 seconds for 99 in 100" in near.text  # 3.4 s is never "under 3 seconds"
    assert not slow.good and "not fast enough" in slow.headline
    assert "above our target" in slow.text


# ---- failures: lost / not lost ----------------------------------------------------------


def _row(**values: float) -> pd.Series:
    base = {
        "plays": 50,
        "processed": 50,
        "sent_to_destination": 0,
        "lost": 0,
        "delayed > 60 s": 0,
        "max_delay_s": 0.5,
    }
    return pd.Series({**base, **values})


CHANGED = {"MaximumRetryAttempts": 2, "BisectBatchOnFunctionError": True, "DestinationConfig": {}}


def test_failures_say_what_happened_both_ways() -> None:
    harmful = _row(lost=14, processed=36, **{"delayed > 60 s": 27, "max_delay_s": 86_390.0})
    set_aside = _row(sent_to_destination=1, processed=49, max_delay_s=3.4)
    good = findings.failures(harmful, set_aside, CHANGED, bad_plays=1)
    assert good.good and good.headline == "Failures: change three settings before going live."
    assert "**14 plays were lost**" in good.text and "more than 23 hours" in good.text
    assert "handled under 3.5 seconds" in good.text and "1 play was set aside" in good.text

    still_lost = _row(lost=3, processed=47, max_delay_s=3.4)
    bad = findings.failures(_row(), still_lost, {"MaximumRetryAttempts": 2}, bad_plays=1)
    assert not bad.good and "not enough" in bad.headline
    assert (
        "**3 plays were lost**" in bad.text
        and "set aside" not in bad.text.split("recommended")[1].split("nothing was set aside")[0]
    )
    assert "held up no other play" in bad.text and "no play was lost" in bad.text


def test_the_report_on_contrasting_simulations_changes_its_words() -> None:
    """One poison play: a queue and a retry bound save it; none and it is lost (virtual clock)."""
    scenario = Scenario(players=20, days=2, seed=5, poison_rate=0.006, rate=0.05)
    start = {"StartingPosition": "TRIM_HORIZON"}
    runs = {
        "defaults": simulate(replace(scenario, mapping=EventSourceMapping.from_aws(start))),
        "queue": simulate(
            replace(
                scenario,
                mapping=EventSourceMapping.from_aws(
                    {**start, **stakeholder.recommended_settings(retries=2)}
                ),
            )
        ),
        "retries only": simulate(
            replace(
                scenario,
                mapping=EventSourceMapping.from_aws({**start, "MaximumRetryAttempts": 2}),
            )
        ),
    }
    table = analysis.failure_comparison(runs)
    bad = findings.bad_plays(runs["defaults"])
    assert bad >= 1
    saved = findings.failures(table.loc["defaults"], table.loc["queue"], CHANGED, bad_plays=bad)
    lost = findings.failures(
        table.loc["defaults"], table.loc["retries only"], {"MaximumRetryAttempts": 2}, bad
    )
    assert saved.good and "no play was lost" in saved.text.split("recommended")[1]
    assert not lost.good and "lost**" in lost.text.split("recommended")[1]
    assert saved.text != lost.text


# ---- badges: earnable or not in the window ------------------------------------------------


def test_rules_that_cannot_be_earned_in_the_window_are_flagged_not_zero() -> None:
    rules = (FirstPlay(), DailyStreak(days=10), TotalPlays(count=100), Comeback(days_away=30))
    table = analysis.badge_rate_table(
        pd.DataFrame(columns=["rule", "params", "badge_id", "player_id"]), rules, 10
    )
    short = findings.label_badges(table, 14)
    long = findings.label_badges(table, 40)
    comeback_short = short.set_index("rule").loc["Comeback"]
    assert not comeback_short["earnable"]
    assert comeback_short["share"] == "cannot be earned in a 14-day window"
    assert long.set_index("rule").loc["Comeback", "share"] == "none"
    assert "cannot be earned in a 14-day window" in findings.badges(short, 14).text
    assert "cannot be earned" not in findings.badges(long, 40).text
    assert findings.days_needed(DailyStreak(days=10)) == 10
    assert findings.days_needed(Comeback(days_away=30)) == 32
    assert findings.days_needed(TotalPlays(count=5)) is None


# ---- the whole stakeholder report ----------------------------------------------------------


def test_stakeholder_sections_follow_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's summary turns when the live run is slow or the recommendation loses plays."""
    scenario = Scenario(players=20, days=2, seed=5, poison_rate=0.006, rate=0.05)
    start = {"StartingPosition": "TRIM_HORIZON"}
    defaults = simulate(replace(scenario, mapping=EventSourceMapping.from_aws(start)))
    rec = stakeholder.recommended_settings(2)
    better = simulate(replace(scenario, mapping=EventSourceMapping.from_aws({**start, **rec})))
    live = simulate(Scenario(players=4, days=2, seed=1))
    rules = (FirstPlay(), DailyStreak(days=10), Comeback(days_away=30))
    badges = findings.label_badges(
        analysis.badge_rate_table(live.achievements, rules, 4), window_days=14
    )

    def data(target: float, recommended_run: object) -> stakeholder.ReportData:
        return stakeholder.ReportData(
            live, "test server", 4, 2, 12.0, target, 0.5,
            {stakeholder.DEFAULT: defaults, stakeholder.RECOMMENDED: recommended_run},
            rec, 60.0, badges, 4, 14,
        )  # fmt: skip

    fast = stakeholder.sections(data(5.0, better))
    slow = stakeholder.sections(data(0.01, defaults))
    assert "Speed: fast enough" in fast["summary"] and "not fast enough" in slow["summary"]
    assert "Use the stream for badges" in fast["recommendations"]
    assert "Do not rely on the stream" in slow["recommendations"]
    assert "change three settings" in fast["summary"]
    assert "not enough" in slow["summary"]
    assert "14 days of synthetic play" in fast["method"]
    assert "a month" not in fast["method"]
    assert "cannot be earned in a 14-day window" in fast["summary"]
