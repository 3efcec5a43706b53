"""Lambda event filtering for DynamoDB stream records: which records reach the function.

An event source mapping holds up to five filter patterns; a record that matches none is skipped
and checkpointed past, never redelivered [F]. Patterns use the EventBridge event-pattern syntax
[F]: a JSON object that mirrors the record, with an array of rules at each leaf.

Semantics encoded here, each with its source:

- Patterns are ORed; the fields of one pattern are ANDed; the rules of one leaf array are ORed
  [F]. A field named in a pattern must be present in the record [F].
- Values match exactly, character by character; numbers compare by their JSON text, so 300,
  300.0 and 3.0e2 are different [F]. A string never equals a number.
- ``numeric`` matches JSON numbers only [EventBridge "Numeric matching works with values that
  are JSON numbers"]. DynamoDB ``N`` attributes are strings in the record, so
  ``{"N": [{"numeric": [">", 100]}]}`` never matches them; ``ApproximateCreationDateTime`` is a
  number and does [R: LocalStack's AWS-validated ``numeric_filter`` and ``date_time_conversion``].
- ``exists`` works on leaf nodes only [EventBridge]: a field whose value is an object counts as
  absent, so ``{"presentKey": [{"exists": true}]}`` does not match ``{"presentKey": {"S": "x"}}``
  and ``exists: false`` does [R: ``exists_filter_type``, ``exists_false_filter``].
- Patterns name the DynamoDB type: ``{"game": ["chess"]}`` does not match
  ``{"game": {"S": "chess"}}``; ``{"game": {"S": ["chess"]}}`` does [R: ``content_filter_type``].
- ``eventName`` (a field outside ``dynamodb``) filters work on real AWS [R], although the
  DynamoDB filtering page says only the ``dynamodb`` key is supported: we follow the recording.

Validation mirrors AWS's "Invalid filter pattern definition." [R] with a message that says what
and where. Emulator choices where AWS is silent are marked "choice" in the code.

Sources: [F] docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html ·
EventBridge docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html ·
[API] botocore lambda 2015-03-31 ``Pattern`` (max 4,096 chars) · [R] LocalStack
``test_lambda_integration_dynamodbstreams.py`` (recorded against AWS).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from streamsim.errors import ConfigError

#: Filters per event source mapping: 5 by default, up to 10 with a quota increase [F].
MAX_PATTERNS = 5
#: Most filters any account can have (the raised quota) [F].
MAX_PATTERNS_WITH_QUOTA = 10
#: Characters per pattern string [API: Pattern max 4096].
MAX_PATTERN_CHARS = 4096
#: Object nesting we accept in a pattern. Choice: AWS documents no limit; a bound keeps matching
#: recursion safe. A DynamoDB record is at most about 8 levels deep for the usual attributes.
MAX_PATTERN_DEPTH = 50


class _HasFilterCriteria(Protocol):
    """Anything with ESM-style ``filter_criteria`` pattern strings (an EventSourceMapping)."""

    @property
    def filter_criteria(self) -> Sequence[str]: ...


_NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
_OPERATORS = (
    "prefix",
    "suffix",
    "equals-ignore-case",
    "anything-but",
    "numeric",
    "exists",
)


@dataclass(frozen=True)
class FilterCriteria:
    """A validated set of filter patterns (an ESM's ``FilterCriteria.Filters[].Pattern``) [F].

    Constructing one validates it; ``max_patterns`` is the account quota: 5 by default, up to
    10 when raised [F].
    """

    patterns: tuple[str, ...] = ()
    max_patterns: int = field(default=MAX_PATTERNS, compare=False)
    _compiled: tuple[_Object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = self.patterns
        if isinstance(patterns, str | bytes) or not isinstance(patterns, Sequence):
            raise ConfigError(
                f"FilterCriteria patterns must be a list of JSON strings, got {_show(patterns)}"
            )
        quota = self.max_patterns
        if isinstance(quota, bool) or not isinstance(quota, int):
            raise ConfigError(f"max_patterns={_show(quota)} must be an integer")
        if not 1 <= quota <= MAX_PATTERNS_WITH_QUOTA:
            raise ConfigError(
                f"max_patterns={quota} is out of range: allowed 1–{MAX_PATTERNS_WITH_QUOTA} "
                f"(AWS default quota {MAX_PATTERNS})"
            )
        if len(patterns) > quota:
            raise ConfigError(
                f"FilterCriteria has {len(patterns)} patterns: allowed at most {quota} "
                f"(AWS default quota {MAX_PATTERNS}, up to {MAX_PATTERNS_WITH_QUOTA} on request)"
            )
        compiled = tuple(
            _compile_pattern(text, number, len(patterns))
            for number, text in enumerate(patterns, start=1)
        )
        object.__setattr__(self, "patterns", tuple(patterns))
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def parse(cls, patterns: Sequence[str], *, max_patterns: int = MAX_PATTERNS) -> FilterCriteria:
        """Validate pattern strings as AWS does at CreateEventSourceMapping, raising ConfigError."""
        if isinstance(patterns, str | bytes) or not isinstance(patterns, Sequence):
            raise ConfigError(
                f"FilterCriteria patterns must be a list of JSON strings, got {_show(patterns)}"
            )
        return cls(patterns=tuple(patterns), max_patterns=max_patterns)

    @classmethod
    def from_mapping(cls, mapping: _HasFilterCriteria) -> FilterCriteria | None:
        """The filters of an ``EventSourceMapping``, or None when it has none (deliver all)."""
        patterns = tuple(mapping.filter_criteria)
        return cls.parse(patterns) if patterns else None

    @property
    def is_empty(self) -> bool:
        """No patterns: every record is delivered [F]."""
        return not self.patterns

    def matches(self, record: Mapping[str, Any]) -> bool:
        """True if the Lambda event record satisfies at least one pattern (or there are none).

        Never raises: a malformed record simply fails to match.
        """
        if not self._compiled:
            return True
        if not isinstance(record, Mapping):
            return False
        return any(pattern.matches(record) for pattern in self._compiled)


# --------------------------------------------------------------------------- compiled pattern


@dataclass(frozen=True)
class _Number:
    """A JSON number with its source text: [F] compares numbers by their text."""

    text: str
    value: float


@dataclass(frozen=True)
class _Literal:
    """An exact-match value: a string, number, boolean or null."""

    value: str | _Number | bool | None

    def equals(self, actual: Any) -> bool:
        expected = self.value
        if expected is None:
            return actual is None
        if isinstance(expected, bool):
            return isinstance(actual, bool) and actual is expected
        if isinstance(expected, str):
            return isinstance(actual, str) and actual == expected
        text = _number_text(actual)
        return text is not None and text == expected.text


@dataclass(frozen=True)
class _Rule:
    """One rule of a leaf array; ``kind`` is "literal" or an operator name."""

    kind: str
    literal: _Literal | None = None
    text: str = ""
    ignore_case: bool = False
    excluded: tuple[_Literal, ...] = ()
    excluded_texts: tuple[str, ...] = ()
    bounds: tuple[tuple[str, float], ...] = ()
    exists: bool = True

    def matches(self, value: Any) -> bool:
        """Whether one leaf value satisfies this rule (``exists`` is handled by the caller)."""
        kind = self.kind
        if kind == "literal":
            assert self.literal is not None
            return self.literal.equals(value)
        if kind == "numeric":
            number = _number_value(value)
            return number is not None and all(_compare(number, op, b) for op, b in self.bounds)
        if kind == "anything-but":
            return not any(literal.equals(value) for literal in self.excluded)
        if not isinstance(value, str):
            return False
        if kind == "equals-ignore-case":
            return value.casefold() == self.text.casefold()
        if kind == "prefix":
            return _fold(value, self.ignore_case).startswith(_fold(self.text, self.ignore_case))
        if kind == "suffix":
            return _fold(value, self.ignore_case).endswith(_fold(self.text, self.ignore_case))
        if kind == "anything-but-prefix":
            return not value.startswith(self.text)
        if kind == "anything-but-suffix":
            return not value.endswith(self.text)
        if kind == "anything-but-equals-ignore-case":
            folded = value.casefold()
            return all(folded != text.casefold() for text in self.excluded_texts)
        return False


@dataclass(frozen=True)
class _Leaf:
    """A field's array of rules, ORed [F]."""

    rules: tuple[_Rule, ...]

    def matches(self, values: list[Any]) -> bool:
        for rule in self.rules:
            if rule.kind == "exists":
                # Leaves only: object values were already left out of ``values`` [EventBridge].
                if bool(values) == rule.exists:
                    return True
            elif any(rule.matches(value) for value in values):
                return True
        return False


@dataclass(frozen=True)
class _Object:
    """An object level of a pattern: fields ANDed, plus ``$or`` groups of alternatives."""

    fields: tuple[tuple[str, _Object | _Leaf], ...]
    alternatives: tuple[tuple[_Object, ...], ...] = ()

    def matches(self, node: Mapping[str, Any] | None) -> bool:
        for name, sub in self.fields:
            children = _children(node, name)
            if isinstance(sub, _Leaf):
                if not sub.matches([v for v in _flatten(children) if not isinstance(v, Mapping)]):
                    return False
                continue
            objects = [v for v in _flatten(children) if isinstance(v, Mapping)]
            # No object there: the nested pattern sees an absent node, so only
            # ``exists: false`` rules below can hold (choice, consistent with exists-on-leaves).
            if not (any(sub.matches(obj) for obj in objects) if objects else sub.matches(None)):
                return False
        return all(any(alt.matches(node) for alt in group) for group in self.alternatives)


def _children(node: Mapping[str, Any] | None, name: str) -> list[Any]:
    if node is None:
        return []
    try:
        if name in node:
            return [node[name]]
    except Exception:  # a hostile Mapping must not make matching raise
        return []
    return []


def _flatten(values: list[Any]) -> Iterator[Any]:
    """Yield scalars and objects, expanding arrays at any depth (iteratively: no recursion)."""
    stack = list(reversed(values))
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple):
            stack.extend(reversed(value))
        else:
            yield value


def _number_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return None


def _number_value(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):
        return None


def _compare(number: float, op: str, bound: float) -> bool:
    if op == "=":
        return number == bound
    if op == "<":
        return number < bound
    if op == "<=":
        return number <= bound
    if op == ">":
        return number > bound
    return number >= bound


def _fold(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


# --------------------------------------------------------------------------- validation


class _Invalid(Exception):
    """A problem inside one pattern; turned into a ConfigError naming the pattern."""

    def __init__(self, problem: str, path: Sequence[str] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = tuple(path)


def _compile_pattern(text: Any, number: int, count: int) -> _Object:
    where = f"FilterCriteria pattern {number} of {count}"
    if not isinstance(text, str):
        raise ConfigError(f"{where} must be a JSON string, got {_show(text)}")
    if len(text) > MAX_PATTERN_CHARS:
        raise ConfigError(
            f"{where} is {len(text)} characters long: allowed at most {MAX_PATTERN_CHARS}"
        )
    try:
        document = json.loads(
            text,
            parse_int=lambda s: _Number(s, float(s)),
            parse_float=lambda s: _Number(s, float(s)),
            parse_constant=_reject_constant,
        )
    except _Invalid as exc:
        raise ConfigError(f"{where} is invalid: {exc.problem} (pattern {_clip(text)})") from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(
            f"{where} is not valid JSON ({exc}); AWS answers 'Invalid filter pattern "
            f"definition.' (pattern {_clip(text)})"
        ) from None
    try:
        if not isinstance(document, dict):
            raise _Invalid(f"a pattern must be a JSON object, got {_kind(document)}")
        return _compile_object(document, (), 1)
    except _Invalid as exc:
        at = ".".join(_show_name(p) for p in exc.path) or "the top level"
        raise ConfigError(
            f"{where} is invalid at {at}: {exc.problem}; AWS answers 'Invalid filter pattern "
            f"definition.' (pattern {_clip(text)})"
        ) from None


def _reject_constant(name: str) -> Any:
    raise _Invalid(f"{name} is not valid JSON")


def _compile_object(document: dict[str, Any], path: tuple[str, ...], depth: int) -> _Object:
    if depth > MAX_PATTERN_DEPTH:
        raise _Invalid(f"nested deeper than {MAX_PATTERN_DEPTH} levels (emulator limit)", path)
    if not document:
        raise _Invalid("an empty object matches nothing useful: name at least one field", path)
    fields: list[tuple[str, _Object | _Leaf]] = []
    alternatives: list[tuple[_Object, ...]] = []
    for name, value in document.items():
        here = (*path, name)
        if name == "$or":
            alternatives.append(_compile_or(value, here, depth))
        elif isinstance(value, dict):
            fields.append((name, _compile_object(value, here, depth + 1)))
        elif isinstance(value, list):
            fields.append((name, _compile_leaf(value, here)))
        else:
            raise _Invalid(
                f"a field must hold an array of rules or a nested object, got {_kind(value)} "
                f"{_show_pattern(value)} (write [{_show_pattern(value)}])",
                here,
            )
    return _Object(tuple(fields), tuple(alternatives))


def _compile_or(value: Any, path: tuple[str, ...], depth: int) -> tuple[_Object, ...]:
    """``$or`` takes an array of at least two objects (EventBridge "Or (multiple fields)")."""
    if not isinstance(value, list) or len(value) < 2:
        raise _Invalid("$or needs an array of at least two objects", path)
    options = []
    for option in value:
        if not isinstance(option, dict):
            raise _Invalid(f"$or options must be objects, got {_kind(option)}", path)
        options.append(_compile_object(option, path, depth + 1))
    return tuple(options)


def _compile_leaf(rules: list[Any], path: tuple[str, ...]) -> _Leaf:
    if not rules:
        raise _Invalid("an empty array matches nothing: give at least one value or rule", path)
    return _Leaf(tuple(_compile_rule(rule, path) for rule in rules))


def _compile_rule(rule: Any, path: tuple[str, ...]) -> _Rule:
    if rule is None or isinstance(rule, str | bool | _Number):
        return _Rule("literal", literal=_Literal(rule))
    if isinstance(rule, list):
        raise _Invalid("arrays cannot be nested inside a rule array", path)
    assert isinstance(rule, dict)
    if len(rule) != 1:
        raise _Invalid(
            f"a rule object holds exactly one operator, got {sorted(rule) or 'none'}", path
        )
    ((operator, argument),) = rule.items()
    if operator not in _OPERATORS:
        raise _Invalid(
            f"unknown or unsupported operator {operator!r}: use one of {', '.join(_OPERATORS)}",
            path,
        )
    here = (*path, operator)
    if operator == "exists":
        if not isinstance(argument, bool):
            raise _Invalid(f"exists takes true or false, got {_show_pattern(argument)}", here)
        return _Rule("exists", exists=argument)
    if operator == "equals-ignore-case":
        return _Rule("equals-ignore-case", text=_string_argument(argument, here))
    if operator in ("prefix", "suffix"):
        if isinstance(argument, dict):
            if set(argument) != {"equals-ignore-case"}:
                raise _Invalid(
                    f'{operator} takes a string or {{"equals-ignore-case": string}}', here
                )
            text = _string_argument(argument["equals-ignore-case"], here)
            return _Rule(operator, text=text, ignore_case=True)
        return _Rule(operator, text=_string_argument(argument, here))
    if operator == "numeric":
        return _Rule("numeric", bounds=_numeric_bounds(argument, here))
    return _anything_but(argument, here)


def _anything_but(argument: Any, path: tuple[str, ...]) -> _Rule:
    """``anything-but``: a value, a list of strings or of numbers, or prefix/suffix/ignore-case.

    Choice where AWS is silent: the prefix/suffix/ignore-case forms match string values only.
    """
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise _Invalid("anything-but takes one of prefix, suffix, equals-ignore-case", path)
        ((operator, value),) = argument.items()
        here = (*path, operator)
        if operator in ("prefix", "suffix"):
            return _Rule(f"anything-but-{operator}", text=_string_argument(value, here))
        if operator == "equals-ignore-case":
            values = value if isinstance(value, list) else [value]
            if not values:
                raise _Invalid("equals-ignore-case needs at least one string", here)
            texts = tuple(_string_argument(v, here) for v in values)
            return _Rule("anything-but-equals-ignore-case", excluded_texts=texts)
        raise _Invalid(
            f"anything-but does not take {operator!r}: use prefix, suffix or equals-ignore-case",
            here,
        )
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise _Invalid("anything-but needs at least one value", path)
    if all(isinstance(v, str) for v in values) or all(isinstance(v, _Number) for v in values):
        return _Rule("anything-but", excluded=tuple(_Literal(v) for v in values))
    raise _Invalid(
        "anything-but takes a string, a number, or a list of only strings or only numbers "
        f"[EventBridge], got {_show_pattern(argument)}",
        path,
    )


def _numeric_bounds(argument: Any, path: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """``numeric``: ["=", n] or one lower and/or one upper bound, e.g. [">", 0, "<=", 5]."""
    usage = 'numeric takes ["=", n] or up to two bounds such as [">", 0, "<=", 5]'
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise _Invalid(f"{usage}, got {_show_pattern(argument)}", path)
    bounds: list[tuple[str, float]] = []
    for op, number in zip(argument[::2], argument[1::2], strict=True):
        if op not in _NUMERIC_OPERATORS or not isinstance(number, _Number):
            raise _Invalid(f"{usage}, got {_show_pattern(argument)}", path)
        if number.value != number.value or abs(number.value) == float("inf"):
            raise _Invalid(f"numeric bound {number.text} is not a finite number", path)
        bounds.append((op, number.value))
    if len(bounds) == 2:
        directions = {_direction(op) for op, _ in bounds}
        if "=" in directions or directions != {"lower", "upper"}:
            raise _Invalid(f"{usage}: one lower and one upper bound, got {argument}", path)
    return tuple(bounds)


def _direction(op: str) -> str:
    if op == "=":
        return "="
    return "lower" if op.startswith(">") else "upper"


def _string_argument(value: Any, path: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_kind(value)} {_show_pattern(value)}", path)
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, _Number):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show_pattern(value: Any) -> str:
    """Render a parsed pattern fragment back as JSON text (numbers keep their source text)."""
    if isinstance(value, _Number):
        return value.text
    if isinstance(value, list):
        return "[" + ", ".join(_show_pattern(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}: {_show_pattern(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return _show(value)


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _clip(text: str, limit: int = 120) -> str:
    return json.dumps(text if len(text) <= limit else text[:limit] + "…")


def _show_name(name: str) -> str:
    """A field name as it can stand in a one-line message (JSON-quoted when it needs it)."""
    return (
        name
        if name and name.isprintable() and "." not in name and '"' not in name
        else json.dumps(name)
    )
