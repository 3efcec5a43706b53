"""Interactive badge tuning: award rates that follow a slider, and the rules the handler reads.

``Tuner`` prepares a population's plays once for the vectorised evaluator (ordering, local
days, the per-play aggregates of ``PlayFeatures``: the expensive part of ``evaluate_batch``),
then evaluates a changed rule in tens of milliseconds: its predicate over the prepared
arrays and the first hit per player or game, exactly as ``evaluate_batch`` does (a test proves
equal counts). ``rules_json`` writes the chosen rules as the ``BADGE_RULES`` JSON the badge
handler reads (``streamsim.game.handler.HandlerSettings.from_env``). ``widget`` is the
ipywidgets front end for notebook 04; all logic is here, tested without a browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streamsim.game.badges import DEFAULT_RULES, BadgeRule, check_rules, rule_from_spec

#: Slider ranges per rule parameter: (min, max, step).
RANGES: dict[str, tuple[int, int, int]] = {
    "DailyStreak.days": (2, 30, 1),
    "TotalPlays.count": (5, 500, 5),
    "Comeback.days_away": (1, 60, 1),
    "PersonalBest.min_plays": (0, 50, 1),
}


@dataclass
class Tuner:
    """A population's plays, prepared once; ``rate(rule)`` re-evaluates one rule quickly."""

    plays: pd.DataFrame
    window_days: int
    _prepared: Any = field(init=False, repr=False)
    _cache: dict[BadgeRule, int] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        # The batch evaluator's own steps (streamsim.game.badges.batch), split so the costly
        # part runs once; ``tests/test_tuning.py`` checks the counts equal evaluate_batch's.
        from streamsim.game.badges import batch

        plays = self.plays.copy()
        for column in ("player_id", "play_id", "game", "tz"):
            plays[column] = plays[column].astype("category")
        table = batch._validated(plays)
        ordered = batch._ordered(table)
        self._prepared = (batch, table, ordered, batch._features(ordered))

    @property
    def players(self) -> int:
        """Players who played at least once: the denominator of every share."""
        return int(self.plays["player_id"].nunique())

    def players_awarded(self, rule: BadgeRule) -> int:
        """Players who earned at least one of ``rule``'s badges (remembered per rule, so a
        slider change evaluates only the rule it changed)."""
        if rule in self._cache:
            return self._cache[rule]
        batch, table, ordered, features = self._prepared
        first = batch._first_plays(rule, features, ordered, len(table.games))
        self._cache[rule] = int(len(np.unique(ordered.player_a[first])))
        return self._cache[rule]

    def rates(self, rules: Iterable[BadgeRule]) -> pd.DataFrame:
        """One row per rule: rule, parameter, threshold, players awarded, share of players."""
        rows = []
        for rule in check_rules(rules):
            params = rule.params()
            awarded = self.players_awarded(rule)
            rows.append(
                {
                    "rule": rule.name,
                    "parameter": next(iter(params), None),
                    "threshold": next(iter(params.values()), np.nan),
                    "players_awarded": awarded,
                    "share_of_players": awarded / max(self.players, 1),
                }
            )
        return pd.DataFrame(rows)

    def curve(self, rule: BadgeRule, thresholds: Sequence[int]) -> pd.DataFrame:
        """Share of players awarded for each threshold of ``rule``'s (first) parameter."""
        name = next(iter(rule.params()), None)
        if name is None:
            return self.rates([rule])
        return self.rates([replace(rule, **{name: int(t)}) for t in thresholds])  # type: ignore[type-var]


def rules_json(rules: Iterable[BadgeRule]) -> str:
    """The rules as ``BADGE_RULES`` (a JSON list of ``{"rule", "params"}``), the handler's input."""
    specs = [{"rule": r.name, "params": r.params()} for r in check_rules(rules)]
    return json.dumps(specs, indent=1)


def rules_from_json(text: str) -> tuple[BadgeRule, ...]:
    """The inverse of ``rules_json`` (as the handler parses it)."""
    return tuple(rule_from_spec(s["rule"], s.get("params", {})) for s in json.loads(text))


def write_rules(rules: Iterable[BadgeRule], path: str | Path) -> Path:
    """Write ``rules_json(rules)`` to ``path``; returns it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rules_json(rules) + "\n")
    return target


def with_threshold(rules: Sequence[BadgeRule], rule_name: str, value: int) -> tuple[BadgeRule, ...]:
    """``rules`` with ``rule_name``'s (first) parameter set to ``value``."""
    out = []
    for rule in rules:
        params = rule.params()
        if rule.name == rule_name and params:
            rule = replace(rule, **{next(iter(params)): int(value)})  # type: ignore[type-var]
        out.append(rule)
    return tuple(out)


def moves(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """``after`` with how each rule's share moved since ``before`` (percentage points)."""
    out = after.copy()
    previous = dict(zip(before["rule"], before["share_of_players"], strict=True))
    out["change_points"] = [
        round((share - previous.get(rule, share)) * 100, 1)
        for rule, share in zip(out["rule"], out["share_of_players"], strict=True)
    ]
    return out


def widget(
    tuner: Tuner,
    rules: Sequence[BadgeRule] = DEFAULT_RULES,
    out_path: str | Path = "badge_rules.json",
    show: Callable[[pd.DataFrame], Any] | None = None,
) -> Any:
    """Sliders for each rule's threshold, the award rates (and how they moved) below them,
    and a button writing the chosen rules as ``BADGE_RULES`` JSON to ``out_path``."""
    import ipywidgets as widgets

    state: dict[str, Any] = {"rules": tuple(rules)}
    state["rates"] = tuner.rates(state["rules"])
    output = widgets.Output()
    message = widgets.HTML()

    def render(table: pd.DataFrame) -> None:
        output.clear_output(wait=True)
        with output:
            if show is not None:
                show(table)
            else:
                from IPython.display import display

                display(rate_view(table))

    def on_change(change: Mapping[str, Any], rule_name: str) -> None:
        state["rules"] = with_threshold(state["rules"], rule_name, change["new"])
        after = tuner.rates(state["rules"])
        render(moves(state["rates"], after))
        state["rates"] = after

    sliders = []
    for rule in rules:
        params = rule.params()
        if not params:
            continue
        name, value = next(iter(params.items()))
        low, high, step = RANGES.get(f"{rule.name}.{name}", (0, max(2 * int(value), 10), 1))
        slider = widgets.IntSlider(
            value=int(value),
            min=low,
            max=high,
            step=step,
            description=f"{rule.name}.{name}",
            style={"description_width": "initial"},
            continuous_update=False,
        )
        slider.observe(lambda c, r=rule.name: on_change(c, r), names="value")
        sliders.append(slider)

    button = widgets.Button(description="Write BADGE_RULES JSON", icon="save")

    def on_click(_: Any) -> None:
        path = write_rules(state["rules"], out_path)
        message.value = f"wrote {len(state['rules'])} rules to <code>{path}</code>"

    button.on_click(on_click)
    render(moves(state["rates"], state["rates"]))
    box = widgets.VBox([*sliders, widgets.HBox([button, message]), output])
    box.state = state  # type: ignore[attr-defined]
    return box


def rate_view(table: pd.DataFrame) -> pd.DataFrame:
    """The rates table as a reader sees it: counts as ints, shares and moves in %."""
    view = pd.DataFrame(
        {
            "rule": table["rule"],
            "threshold": [
                f"{p} = {t:g}" if isinstance(p, str) else "—"
                for p, t in zip(table["parameter"], table["threshold"], strict=True)
            ],
            "players awarded": table["players_awarded"].astype(int),
            "share of players": [f"{s:.1%}" for s in table["share_of_players"]],
        }
    )
    if "change_points" in table:
        view["moved"] = [f"{c:+.1f} points" if c else "—" for c in table["change_points"]]
    return view.set_index("rule")


def threshold_rules(
    streak_days: Iterable[int], total_play_counts: Iterable[int], comeback_days: Iterable[int]
) -> tuple[BadgeRule, ...]:
    """One rule instance per threshold to try (badge ids differ, so one evaluation does all)."""
    from streamsim.game.badges import Comeback, DailyStreak, TotalPlays

    return (
        *(DailyStreak(days=n) for n in streak_days),
        *(TotalPlays(count=n) for n in total_play_counts),
        *(Comeback(days_away=n) for n in comeback_days),
    )


def population_rates(
    populations: Mapping[str, Mapping[str, Any]],
    rules: Sequence[BadgeRule],
    *,
    players: int,
    days: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Award rates of ``rules`` on each named population (PopulationConfig changes; habits as
    [mean, concentration] of a Beta), and each population's size: (rates, sizes)."""
    from streamsim.game.badges import evaluate_batch
    from streamsim.workbench.analysis import badge_rate_table
    from streamsim.workbench.traffic import Beta, Population, PopulationConfig

    tables, sizes = [], {}
    for label, changes in populations.items():
        habits: dict[str, Any] = {
            k: Beta(*v) if isinstance(v, (list, tuple)) else v for k, v in changes.items()
        }
        config = PopulationConfig(players=players, days=days, seed=seed, **habits)
        plays = Population.generate(config).plays_frame()
        active = int(plays["player_id"].nunique())
        table = badge_rate_table(evaluate_batch(plays, rules), rules, active)
        tables.append(table.assign(population=label))
        sizes[label] = {
            "players who played": active,
            "plays": len(plays),
            "plays per player": round(len(plays) / max(active, 1), 1),
        }
    return pd.concat(tables, ignore_index=True), pd.DataFrame(sizes).T.rename_axis(
        f"population ({days} days)"
    )


def resolve_out(path: str | Path) -> Path:
    """Where the button writes: a relative path is taken from the project root (a notebook's
    kernel starts in notebooks/)."""
    from streamsim.workbench.runschema import project_root

    target = Path(path)
    root = project_root()
    return target if target.is_absolute() or root is None else root / target


def live_check_run(
    run_path: str | Path | None,
    *,
    rules: Mapping[str, Mapping[str, Any]],
    players: int,
    days: int,
    seed: int,
    strategy: str,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> Any:
    """The run notebook 04 checks the evaluator against: ``run_path`` loaded, or else a small
    live run (in a temporary folder) whose badge handler uses ``rules`` (name -> parameters)."""
    import tempfile

    from streamsim.aws.backend import open_backend
    from streamsim.workbench.run import run_pipeline
    from streamsim.workbench.runconfig import RunConfig
    from streamsim.workbench.runfolder import load_run

    if run_path:
        return load_run(run_path)
    rule_set = tuple(rule_from_spec(name, dict(params)) for name, params in rules.items())
    config = RunConfig(players=players, days=days, seed=seed, strategy=strategy, rules=rule_set)
    with open_backend(endpoint_url, region) as backend, tempfile.TemporaryDirectory() as folder:
        return load_run(run_pipeline(config, backend, out_dir=folder).path)
