"""Fault specs: ``streamsim run --faults`` strings, parsed into frozen dataclasses; a bad spec is
one clear error that quotes it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsim.errors import ConfigError
from streamsim.workbench.cli import main
from streamsim.workbench.faults.spec import (
    NAMES,
    Duplicates,
    ExpireIterators,
    HandlerErrors,
    HandlerTimeout,
    KillTrigger,
    Poison,
    ServerErrors,
    Throttle,
    Unreachable,
    format_spec,
    parse_faults,
    parse_spec,
)


def test_every_fault_of_the_issue_parses() -> None:
    specs = parse_faults(
        "handler-errors=0.1,poison=1,handler-timeout=1,throttle=0.05,server-errors=0.05,"
        "unreachable=2.0@3.0,kill-trigger=2.0,expire-iterators=0.2,duplicates=0.1"
    )
    assert specs == (
        HandlerErrors(0.1),
        Poison(1),
        HandlerTimeout(1, 5.0),
        Throttle(0.05),
        ServerErrors(0.05),
        Unreachable(for_seconds=2.0, after_seconds=3.0),
        KillTrigger(2.0),
        ExpireIterators(0.2),
        Duplicates(0.1),
    )
    assert {type(s) for s in specs} == set(NAMES.values())
    with pytest.raises(AttributeError):
        specs[0].rate = 0.5  # type: ignore[misc]  # frozen


def test_specs_round_trip_and_several_options_combine() -> None:
    specs = parse_faults(["poison=2", " throttle = 0.05 ", "handler-timeout=3@1.5"])
    assert specs == (Poison(2), Throttle(0.05), HandlerTimeout(3, 1.5))
    assert parse_faults(",".join(format_spec(s) for s in specs)) == specs
    assert parse_faults([]) == () and parse_faults(" , ") == ()


@pytest.mark.parametrize(
    "text, message",
    [
        ("poison", r"'poison' is not NAME=VALUE"),
        ("slow=1", r"'slow=1': unknown fault 'slow' \(known: handler-errors"),
        ("throttle=abc", r"'throttle=abc': 'abc' is not a number"),
        ("throttle=0.9", r"'throttle=0.9': the rate must be > 0 and <= 0.5"),
        ("handler-errors=0", r"the rate must be > 0 and <= 1"),
        ("handler-errors=nan", r"is not a finite number"),
        ("poison=0", r"'poison=0': the count must be at least 1"),
        ("poison=1.5", r"'1.5' is not a whole number"),
        ("unreachable=2", r"expected unreachable=SECONDS@AFTER_SECONDS"),
        ("unreachable=0@1", r"seconds must be > 0"),
        ("kill-trigger=-1", r"seconds must be >= 0"),
        ("handler-timeout=1@1000", r"at most 900 s"),
        ("poison=1,poison=2", r"fault 'poison' is given twice"),
    ],
)
def test_bad_specs_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_faults(text)


def test_cli_refuses_a_bad_spec_in_one_line_before_starting_anything(capsys) -> None:
    assert main(["run", "--faults", "throttle=2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fault spec 'throttle=2'" in err


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=30)
    | st.builds(
        lambda name, value: f"{name}={value}",
        st.sampled_from(sorted(NAMES)),
        st.text(alphabet="0123456789.@-eE+nainf ", max_size=10),
    )
)
def test_arbitrary_specs_parse_or_raise_one_config_error(text: str) -> None:
    try:
        specs = parse_faults(text)
    except ConfigError as exc:
        assert "\n" not in str(exc) and "fault" in str(exc)
        return
    assert parse_faults(",".join(format_spec(s) for s in specs)) == specs
    assert all(parse_spec(format_spec(s)) == s for s in specs)
