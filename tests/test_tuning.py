"""Badge tuning: the prepared evaluator equals evaluate_batch; sliders move the rates; the button
writes the BADGE_RULES JSON the handler reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsim import DEFAULT_RULES, Population, PopulationConfig, evaluate_batch
from streamsim.game.badges import Comeback, DailyStreak, TotalPlays
from streamsim.game.handler import HandlerSettings
from streamsim.workbench import tuning


@pytest.fixture(scope="module")
def plays():
    return Population.generate(PopulationConfig(players=150, days=14, seed=2)).plays_frame()


@pytest.fixture(scope="module")
def tuner(plays):
    return tuning.Tuner(plays, 14)


@pytest.mark.parametrize(
    "rule", [*DEFAULT_RULES, DailyStreak(days=3), TotalPlays(count=20), Comeback(days_away=2)]
)
def test_players_awarded_equals_the_batch_evaluator(plays, tuner, rule) -> None:
    awards = evaluate_batch(plays, (rule,))
    assert tuner.players_awarded(rule) == awards["player_id"].nunique()


def test_a_lower_threshold_never_awards_fewer(tuner) -> None:
    curve = tuner.curve(DailyStreak(days=10), range(2, 12))
    shares = list(curve["share_of_players"])
    assert shares == sorted(shares, reverse=True) and shares[0] > shares[-1]


def test_rules_json_is_what_the_handler_reads(tmp_path: Path) -> None:
    rules = tuning.with_threshold(DEFAULT_RULES, "DailyStreak", 4)
    path = tuning.write_rules(rules, tmp_path / "rules.json")
    settings = HandlerSettings.from_env({"BADGE_RULES": path.read_text()})
    assert settings.rules == rules
    assert tuning.rules_from_json(tuning.rules_json(rules)) == rules
    assert json.loads(path.read_text())[1] == {"rule": "DailyStreak", "params": {"days": 4}}


def test_the_widget_moves_rates_and_writes_rules(tuner, tmp_path: Path) -> None:
    shown = []
    box = tuning.widget(tuner, DEFAULT_RULES, out_path=tmp_path / "r.json", show=shown.append)
    sliders = [w for w in box.children if hasattr(w, "value") and hasattr(w, "min")]
    assert [s.description for s in sliders] == [
        "DailyStreak.days",
        "TotalPlays.count",
        "Comeback.days_away",
        "PersonalBest.min_plays",
    ]
    assert [s.value for s in sliders] == [10, 100, 30, 5]  # the rules' defaults
    before = shown[-1].set_index("rule").loc["DailyStreak", "share_of_players"]
    sliders[0].value = 2
    after = shown[-1].set_index("rule")
    assert after.loc["DailyStreak", "share_of_players"] > before
    assert after.loc["DailyStreak", "change_points"] == pytest.approx(
        round((after.loc["DailyStreak", "share_of_players"] - before) * 100, 1)
    )
    button = box.children[len(sliders)].children[0]
    button.click()
    written = tuning.rules_from_json((tmp_path / "r.json").read_text())
    assert DailyStreak(days=2) in written and len(written) == len(DEFAULT_RULES)


def test_rate_view_shows_counts_as_ints(tuner) -> None:
    view = tuning.rate_view(tuner.rates(DEFAULT_RULES))
    assert str(view["players awarded"].dtype).startswith("int")
    assert view["share of players"].str.endswith("%").all()


def test_the_live_check_loads_a_given_run_folder_instead_of_running(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Notebook 04's live check: a ``run_path`` is loaded (here a missing one: load_run's own
    one-line error, and no backend started), else a small live run is made."""
    from streamsim.errors import StreamsimError
    from streamsim.workbench.tuning import live_check_run

    with pytest.raises(StreamsimError, match="no-such-run"):
        live_check_run(
            tmp_path / "no-such-run", rules={}, players=1, days=1, seed=1, strategy="read-all"
        )
