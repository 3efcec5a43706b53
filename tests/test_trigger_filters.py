"""Lambda event filtering on DynamoDB stream records: every operator on realistic records."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.filters import MAX_PATTERN_DEPTH, FilterCriteria
from streamsim.errors import ConfigError

SAMPLE = Path(__file__).parent / "events" / "powertools_dynamoStreamEvent.json"
INSERT, MODIFY = json.loads(SAMPLE.read_text(encoding="utf-8"))["Records"]


def play(
    game: str = "chess", score: str = "42", event_name: str = "INSERT", **extra: Any
) -> dict[str, Any]:
    """A Plays-table INSERT record in the sample's shape, with DynamoDB-typed attributes."""
    record = copy.deepcopy(INSERT)
    record["eventName"] = event_name
    record["dynamodb"]["Keys"] = {"player_id": {"S": "p1"}, "play_key": {"S": "2024#a"}}
    record["dynamodb"]["NewImage"] = {
        "player_id": {"S": "p1"},
        "play_key": {"S": "2024#a"},
        "game": {"S": game},
        "score": {"N": score},
        **extra,
    }
    return record


def matches(pattern: Any, record: dict[str, Any]) -> bool:
    return FilterCriteria.parse([json.dumps(pattern)]).matches(record)


# --------------------------------------------------------------------------- equality


def test_event_name_filters() -> None:
    assert matches({"eventName": ["INSERT"]}, INSERT)
    assert not matches({"eventName": ["INSERT"]}, MODIFY)
    assert matches({"eventName": ["INSERT", "MODIFY"]}, MODIFY)  # values ORed [F]
    assert not matches({"eventName": ["REMOVE"]}, INSERT)


def test_typed_attribute_filter_on_new_image() -> None:
    pattern = {"dynamodb": {"NewImage": {"game": {"S": ["chess"]}}}}
    assert matches(pattern, play("chess"))
    assert not matches(pattern, play("sudoku"))
    # Omitting the DynamoDB type does not match [R: content_filter_type]
    assert not matches({"dynamodb": {"NewImage": {"game": ["chess"]}}}, play("chess"))


def test_keys_filter_from_the_docs_example() -> None:
    assert matches({"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}, INSERT)
    # A number pattern does not equal the N string "101"
    assert not matches({"dynamodb": {"Keys": {"Id": {"N": [101]}}}}, INSERT)


def test_fields_are_anded_and_all_must_exist() -> None:
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"game": {"S": ["chess"]}}}}
    assert matches(pattern, play("chess"))
    assert not matches(pattern, play("chess", event_name="MODIFY"))
    assert not matches({"eventName": ["INSERT"], "userIdentity": {"type": ["Service"]}}, INSERT)


def test_patterns_are_ored() -> None:
    criteria = FilterCriteria.parse(
        [json.dumps({"eventName": ["REMOVE"]}), json.dumps({"eventSource": ["aws:dynamodb"]})]
    )
    assert criteria.matches(INSERT)
    only_remove = FilterCriteria.parse([json.dumps({"eventName": ["REMOVE"]})])
    assert not only_remove.matches(INSERT)


def test_numbers_compare_by_their_json_text() -> None:
    # SizeBytes is 26 in the record [F: 300, 300.0 and 3.0e2 are not equal]
    assert matches({"dynamodb": {"SizeBytes": [26]}}, INSERT)
    assert not matches({"dynamodb": {"SizeBytes": [26.0]}}, INSERT)
    assert not matches({"dynamodb": {"SizeBytes": ["26"]}}, INSERT)


def test_null_and_empty_string() -> None:
    record = play(nickname={"NULL": True}, motto={"S": ""})
    assert matches({"dynamodb": {"NewImage": {"motto": {"S": [""]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"nickname": {"NULL": [True]}}}}, record)
    with_null = copy.deepcopy(INSERT)
    with_null["userIdentity"] = None
    assert matches({"userIdentity": [None]}, with_null)
    assert not matches({"userIdentity": [None]}, INSERT)  # absent is not null


def test_boolean_attribute() -> None:
    record = play(won={"BOOL": True})
    assert matches({"dynamodb": {"NewImage": {"won": {"BOOL": [True]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"won": {"BOOL": [False]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"won": {"BOOL": ["true"]}}}}, record)


def test_array_values_match_if_any_element_does() -> None:
    record = play(tags={"SS": ["weekend", "streak"]})
    assert matches({"dynamodb": {"NewImage": {"tags": {"SS": ["streak"]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"tags": {"SS": ["holiday"]}}}}, record)


# --------------------------------------------------------------------------- string operators


def test_prefix_and_suffix() -> None:
    def on_game(rule: Any) -> dict[str, Any]:
        return {"dynamodb": {"NewImage": {"game": {"S": [rule]}}}}

    assert matches(on_game({"prefix": "ch"}), play("chess"))
    assert not matches(on_game({"prefix": "Ch"}), play("chess"))
    assert matches(on_game({"prefix": {"equals-ignore-case": "CH"}}), play("chess"))
    assert matches(on_game({"suffix": "ess"}), play("chess"))
    assert not matches(on_game({"suffix": "ku"}), play("chess"))
    assert matches(on_game({"suffix": {"equals-ignore-case": "ESS"}}), play("chess"))
    assert matches(on_game({"equals-ignore-case": "CHESS"}), play("chess"))
    assert not matches(on_game({"equals-ignore-case": "chess!"}), play("chess"))
    # String operators never match numbers
    assert not matches({"dynamodb": {"SizeBytes": [{"prefix": "2"}]}}, INSERT)


def test_anything_but() -> None:
    def game_rule(rule: Any) -> dict[str, Any]:
        return {"dynamodb": {"NewImage": {"game": {"S": [rule]}}}}

    assert matches(game_rule({"anything-but": ["sudoku", "wordle"]}), play("chess"))
    assert not matches(game_rule({"anything-but": ["sudoku", "chess"]}), play("chess"))
    assert not matches(game_rule({"anything-but": "chess"}), play("chess"))
    assert matches(game_rule({"anything-but": {"prefix": "su"}}), play("chess"))
    assert not matches(game_rule({"anything-but": {"prefix": "ch"}}), play("chess"))
    assert not matches(game_rule({"anything-but": {"suffix": "ss"}}), play("chess"))
    assert not matches(
        game_rule({"anything-but": {"equals-ignore-case": ["CHESS"]}}), play("chess")
    )
    assert matches(game_rule({"anything-but": {"equals-ignore-case": "go"}}), play("chess"))
    # Needs the field to exist
    assert not matches(
        {"dynamodb": {"NewImage": {"level": {"S": [{"anything-but": "x"}]}}}}, play()
    )
    # Numbers: anything-but a number list
    assert matches({"dynamodb": {"SizeBytes": [{"anything-but": [1, 2]}]}}, INSERT)
    assert not matches({"dynamodb": {"SizeBytes": [{"anything-but": [26]}]}}, INSERT)


# --------------------------------------------------------------------------- numeric


def test_numeric_matches_json_numbers() -> None:
    created = INSERT["dynamodb"]["ApproximateCreationDateTime"]  # 1693997155.0
    assert matches({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}, INSERT)
    between = [{"numeric": [">=", created, "<", created + 1]}]
    assert matches({"dynamodb": {"ApproximateCreationDateTime": between}}, INSERT)
    assert matches({"dynamodb": {"SizeBytes": [{"numeric": ["=", 26]}]}}, INSERT)
    assert matches({"dynamodb": {"SizeBytes": [{"numeric": ["<=", 26]}]}}, INSERT)
    assert not matches({"dynamodb": {"SizeBytes": [{"numeric": ["<", 26]}]}}, INSERT)
    assert not matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 10, "<=", 20]}]}}, INSERT)


def test_numeric_does_not_match_dynamodb_n_strings() -> None:
    # [R numeric_filter]: N "101" with [{"numeric": [">", 100]}, {"anything-but": "101"}]
    # is not delivered; N "42" is, through anything-but.
    rules = {
        "dynamodb": {
            "NewImage": {"score": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}
        }
    }
    assert not matches(rules, play(score="101"))
    assert matches(rules, play(score="42"))
    assert not matches(
        {"dynamodb": {"NewImage": {"score": {"N": [{"numeric": [">", 0]}]}}}}, play()
    )


# --------------------------------------------------------------------------- exists


def test_exists_on_leaves() -> None:
    record = play(presentKey={"S": "presentValue"})
    assert matches({"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": True}]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"absent": {"S": [{"exists": True}]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"absent": {"S": [{"exists": False}]}}}}, record)


def test_exists_does_not_see_intermediate_nodes() -> None:
    record = play(presentKey={"S": "presentValue"})
    # [R exists_filter_type]: exists true on the attribute object does not match
    assert not matches({"dynamodb": {"NewImage": {"presentKey": [{"exists": True}]}}}, record)
    # [R exists_false_filter]: exists false on it does
    assert matches({"dynamodb": {"NewImage": {"presentKey": [{"exists": False}]}}}, record)


def test_exists_false_when_the_parent_is_missing() -> None:
    # An INSERT has no OldImage: nothing under it exists
    assert matches({"dynamodb": {"OldImage": {"game": {"S": [{"exists": False}]}}}}, play())
    assert not matches({"dynamodb": {"OldImage": {"game": {"S": [{"exists": True}]}}}}, play())


def test_or_across_fields() -> None:
    pattern = {
        "$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"NewImage": {"game": {"S": ["chess"]}}}}]
    }
    assert matches(pattern, play("chess"))
    assert not matches(pattern, play("go"))
    assert matches(pattern, play("go", event_name="REMOVE"))
    nested = {
        "dynamodb": {"NewImage": {"$or": [{"game": {"S": ["go"]}}, {"score": {"N": ["42"]}}]}}
    }
    assert matches(nested, play("chess", score="42"))
    assert not matches(nested, play("chess", score="7"))


# --------------------------------------------------------------------------- criteria as a whole


def test_no_patterns_deliver_everything_and_bad_records_never_match() -> None:
    assert FilterCriteria().matches(INSERT)
    assert FilterCriteria.parse([]).is_empty
    criteria = FilterCriteria.parse([json.dumps({"eventName": ["INSERT"]})])
    odd: list[Any] = [None, [], "INSERT", {"eventName": {"S": "INSERT"}}, {}]
    for record in odd:
        assert criteria.matches(record) is False


def test_from_mapping() -> None:
    assert FilterCriteria.from_mapping(EventSourceMapping(starting_position="LATEST")) is None
    m = EventSourceMapping.from_aws(
        {
            "StartingPosition": "LATEST",
            "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["MODIFY"]}'}]},
        }
    )
    criteria = FilterCriteria.from_mapping(m)
    assert criteria is not None and criteria.matches(MODIFY) and not criteria.matches(INSERT)
    assert criteria == m.filters


# --------------------------------------------------------------------------- validation

INVALID = [
    ("single-string", "not valid JSON"),
    ('[{"eventName": ["INSERT"=123}]', "not valid JSON"),
    ("", "not valid JSON"),
    ('{"a": [NaN]}', "NaN is not valid JSON"),
    ("[]", "must be a JSON object, got an array"),
    ("{}", "empty object"),
    (
        '{"eventName": "INSERT"}',
        'at eventName: a field must hold an array of rules .* got a string "INSERT"',
    ),
    ('{"eventName": []}', "at eventName: an empty array"),
    ('{"eventName": [["INSERT"]]}', "arrays cannot be nested"),
    ('{"a": [{"prefix": "x", "suffix": "y"}]}', "exactly one operator"),
    ('{"a": [{"wildcard": "x*"}]}', "unknown or unsupported operator 'wildcard'"),
    ('{"a": [{"prefix": 1}]}', "at a.prefix: expected a string, got a number 1"),
    ('{"a": [{"prefix": {"foo": "x"}}]}', "prefix takes a string or"),
    ('{"a": [{"exists": "yes"}]}', "exists takes true or false"),
    ('{"a": [{"numeric": [">"]}]}', "numeric takes"),
    ('{"a": [{"numeric": [">", "5"]}]}', "numeric takes"),
    ('{"a": [{"numeric": ["!=", 5]}]}', "numeric takes"),
    ('{"a": [{"numeric": [">", 1, ">", 2]}]}', "one lower and one upper bound"),
    ('{"a": [{"numeric": ["=", 1, "<", 2]}]}', "one lower and one upper bound"),
    ('{"a": [{"numeric": [">", 1e999]}]}', "not a finite number"),
    ('{"a": [{"anything-but": ["x", 1]}]}', "only strings or only numbers"),
    ('{"a": [{"anything-but": []}]}', "at least one value"),
    ('{"a": [{"anything-but": null}]}', "anything-but takes"),
    ('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', "does not take 'numeric'"),
    ('{"$or": [{"a": ["x"]}]}', "at least two objects"),
    ('{"$or": [{"a": ["x"]}, "b"]}', "must be objects"),
]


@pytest.mark.parametrize(("pattern", "problem"), INVALID)
def test_invalid_patterns_name_the_pattern_and_the_problem(pattern: str, problem: str) -> None:
    good = json.dumps({"eventName": ["INSERT"]})
    with pytest.raises(ConfigError, match=rf"^FilterCriteria pattern 2 of 2 .*{problem}") as err:
        FilterCriteria.parse([good, pattern])
    assert "\n" not in str(err.value)


def test_limits() -> None:
    five = [json.dumps({"eventName": [n]}) for n in "ABCDE"]
    assert len(FilterCriteria.parse(five).patterns) == 5
    with pytest.raises(ConfigError, match="has 6 patterns: allowed at most 5"):
        FilterCriteria.parse([*five, five[0]])
    # Up to 10 with a raised quota [F]
    assert len(FilterCriteria.parse(five * 2, max_patterns=10).patterns) == 10
    with pytest.raises(ConfigError, match="max_patterns=11 is out of range"):
        FilterCriteria.parse(five, max_patterns=11)
    deep: Any = ["x"]
    for _ in range(MAX_PATTERN_DEPTH):
        deep = {"a": deep}
    assert FilterCriteria.parse([json.dumps(deep)]).patterns
    with pytest.raises(ConfigError, match="nested deeper than 50 levels"):
        FilterCriteria.parse([json.dumps({"a": deep})])
    with pytest.raises(ConfigError, match="not valid JSON"):
        FilterCriteria.parse(["[" * 4000])
    for bad in ("{}", None, [1]):
        with pytest.raises(ConfigError):
            FilterCriteria.parse(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- fuzzing

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.floats(allow_nan=True)
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
operator_rules = st.one_of(
    scalars,
    st.fixed_dictionaries({"prefix": st.text(max_size=3) | json_values}),
    st.fixed_dictionaries({"suffix": st.text(max_size=3)}),
    st.fixed_dictionaries({"equals-ignore-case": st.text(max_size=3)}),
    st.fixed_dictionaries({"exists": st.booleans() | scalars}),
    st.fixed_dictionaries({"anything-but": json_values}),
    st.fixed_dictionaries(
        {
            "numeric": st.lists(
                st.sampled_from(["=", "<", "<=", ">", ">=", "!"])
                | st.integers(-5, 5)
                | st.floats(),
                max_size=5,
            )
        }
    ),
    st.dictionaries(st.text(max_size=8), json_values, max_size=2),
)
field_names = st.sampled_from(
    ["eventName", "dynamodb", "NewImage", "game", "S", "N", "$or", "SizeBytes"]
) | st.text(max_size=4)
pattern_objects = st.recursive(
    st.dictionaries(field_names, st.lists(operator_rules, max_size=3), min_size=1, max_size=3),
    lambda inner: st.dictionaries(
        field_names, inner | st.lists(inner, max_size=3), min_size=1, max_size=3
    ),
    max_leaves=8,
)
valid_rules = st.one_of(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    st.builds(lambda t: {"prefix": t}, st.text(max_size=3)),
    st.builds(lambda t: {"suffix": t}, st.text(max_size=3)),
    st.builds(lambda t: {"equals-ignore-case": t}, st.text(max_size=3)),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(
        lambda t: {"anything-but": t},
        st.text(max_size=3) | st.lists(st.text(max_size=3), min_size=1),
    ),
    st.builds(lambda t: {"anything-but": {"prefix": t}}, st.text(max_size=3)),
    st.builds(lambda n: {"numeric": [">", n]}, st.integers(-5, 5)),
    st.builds(lambda a, b: {"numeric": [">=", a, "<", b]}, st.integers(-5, 5), st.integers(-5, 5)),
)
valid_patterns = st.recursive(
    st.dictionaries(
        field_names.filter(lambda n: n != "$or"),
        st.lists(valid_rules, min_size=1, max_size=3),
        min_size=1,
        max_size=3,
    ),
    lambda inner: (
        st.dictionaries(field_names.filter(lambda n: n != "$or"), inner, min_size=1, max_size=3)
        | st.builds(lambda alts: {"$or": alts}, st.lists(inner, min_size=2, max_size=3))
    ),
    max_leaves=8,
)
records = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(field_names, inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40) | pattern_objects.map(json.dumps), max_size=6))
@example(patterns=['{"\\n":[]}'])  # a field name with a newline once made a two-line message
def test_arbitrary_patterns_raise_only_config_error(patterns: list[str]) -> None:
    try:
        criteria = FilterCriteria.parse(patterns)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert criteria.matches(INSERT) in (True, False)


@settings(max_examples=200, deadline=None)
@given(
    pattern_objects, st.lists(records | st.just(play()) | st.just(MODIFY), min_size=1, max_size=4)
)
def test_matches_never_raises_on_arbitrary_records(
    pattern: dict[str, Any], candidates: list[Any]
) -> None:
    try:
        criteria = FilterCriteria.parse([json.dumps(pattern)])
    except ConfigError:
        criteria = FilterCriteria.parse(
            [json.dumps({"dynamodb": {"NewImage": {"game": {"S": [{"anything-but": "go"}]}}}})]
        )
    for record in candidates:
        assert criteria.matches(record) in (True, False)


@settings(max_examples=200, deadline=None)
@given(valid_patterns)
def test_generated_valid_patterns_parse(pattern: dict[str, Any]) -> None:
    assert FilterCriteria.parse([json.dumps(pattern)]).matches(play()) in (True, False)
