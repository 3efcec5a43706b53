"""Two of moto's slow paths, made fast in OUR moto child process only (same responses, byte for byte).

Measured with the child's profiler (streamsim/aws/serverprofile.py, docs/backends.md "Where the
live pipeline's time goes"), the live pipeline's server time went mostly to:

1. **The response serializer on DynamoDB attribute values.** moto 5.2 serializes every response
   by walking botocore's output shape; each ``AttributeValue`` is a structure of ten members
   (S, N, B, SS, NS, BS, M, L, NULL, BOOL) and each member is looked up under several aliases,
   so a Query page or a GetRecords record cost milliseconds. ``fast_attribute_value`` writes a
   plain ``{"S": "x"}``-style value the way the generic path does (strings as they are, blobs
   through the serializer's own ``_base64``, maps and lists recursively) and hands anything else
   (a missing value, a non-string S or N, an unknown or extra key) back to the generic path.
2. **Query on a table's key.** moto's ``Table.query`` without an index sorts *all* the table's
   items, then keeps the partition's: a cost that grows with the table during a run. With the
   partition's items only (``Table.items[hash_key]``, the same items the scan would keep: a
   DynamoType hashes as it compares) the rest of moto's query runs unchanged, so order,
   pagination, filters and projections are moto's own.

3. **Two lookups made on every request that never change while the server runs**: the list of
   moto's service modules (``moto.backends.list_of_moto_modules`` lists moto's folder on disk,
   twice a request) and a response class's method names (``inspect.getmembers`` a request);
   both are now computed once.

Applied by ``servechild`` (the child of ``servers.MotoProcess``) only when moto's version is one
these patches were checked against (``TESTED_MOTO_VERSIONS``) and its internals still look as
expected; otherwise the child runs moto unpatched and says why on stderr (its log), and the
parent warns (``servers.MotoProcess``). ``tests/test_motopatch.py`` compares the patched and
unpatched responses of the same requests, stream records included.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

#: The moto versions these patches were written and tested against (pyproject: moto[server]).
TESTED_MOTO_VERSIONS = ("5.2.5",)
_SERVICES = ("dynamodb", "dynamodbstreams")
#: Set to "1" to run the moto child unpatched (for comparisons: tests/test_motopatch.py).
UNPATCHED_ENV = "STREAMSIM_MOTO_UNPATCHED"
#: botocore's AttributeValue: member name -> shape type (checked before patching).
_AV_MEMBERS = {
    "S": "string",
    "N": "string",
    "B": "blob",
    "SS": "list",
    "NS": "list",
    "BS": "list",
    "M": "map",
    "L": "list",
    "NULL": "boolean",
    "BOOL": "boolean",
}


class _Slow(Exception):
    """This value is not a plain attribute value: let moto's generic serializer write it."""


def fast_attribute_value(value: Any, base64: Callable[[Any], str]) -> dict[str, Any]:
    """``value`` as moto's JSON serializer writes an AttributeValue, or ``_Slow``."""
    if type(value) is not dict or len(value) != 1:
        raise _Slow
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        if type(inner) is not str:
            raise _Slow
        return {kind: inner}
    if kind in ("BOOL", "NULL"):
        if type(inner) is not bool:
            raise _Slow
        return {kind: inner}
    if kind == "M":
        if type(inner) is not dict:
            raise _Slow
        return {kind: {k: fast_attribute_value(v, base64) for k, v in inner.items()}}
    if kind == "L":
        if type(inner) is not list:
            raise _Slow
        return {kind: [fast_attribute_value(v, base64) for v in inner]}
    if kind in ("SS", "NS"):
        if type(inner) is not list or any(type(v) is not str for v in inner):
            raise _Slow
        return {kind: list(inner)}
    if kind == "B":
        if not isinstance(inner, (str, bytes)):
            raise _Slow
        return {kind: base64(inner)}
    if kind == "BS":
        if type(inner) is not list or any(not isinstance(v, (str, bytes)) for v in inner):
            raise _Slow
        return {kind: [base64(v) for v in inner]}
    raise _Slow


def why_not(moto_version: str) -> str | None:
    """None when the patches apply to this moto, else the reason they do not."""
    if moto_version not in TESTED_MOTO_VERSIONS:
        return f"moto {moto_version} is not one the patches were tested on {TESTED_MOTO_VERSIONS}"
    try:
        from botocore.session import Session
        from moto.core.serialize import JSONSerializer, get_serializer_class
        from moto.dynamodb.models.table import Table

        for service in _SERVICES:
            if get_serializer_class(service, "json") is not JSONSerializer:
                return f"{service} is not serialized by moto's JSONSerializer"
            model = Session().get_service_model(service)
            shape = model.shape_for("AttributeValue")
            members = {name: s.type_name for name, s in shape.members.items()}
            if members != _AV_MEMBERS or "name" in shape.serialization:
                return f"{service}'s AttributeValue shape is not the expected one: {members}"
            if any("name" in s.serialization for s in shape.members.values()):
                return f"{service}'s AttributeValue members are renamed on the wire"
        for name in ("_serialize", "_base64", "get_serialized_name"):
            if not callable(getattr(JSONSerializer, name, None)):
                return f"moto's JSONSerializer has no {name}"
        if not callable(getattr(Table, "query", None)) or not callable(
            getattr(Table, "all_items", None)
        ):
            return "moto's Table has no query/all_items"
        import moto.backends
        import moto.core.responses

        for module, name in (
            (moto.backends, "list_of_moto_modules"),
            (moto.core.responses, "method_names_from_class"),
        ):
            if not callable(getattr(module, name, None)):
                return f"{module.__name__} has no {name}"
    except Exception as exc:  # moto or botocore moved: run unpatched
        return f"moto's internals differ ({type(exc).__name__}: {exc})"
    return None


def apply(moto_version: str | None = None) -> str | None:
    """Patch moto in this process; None when applied, else the reason (moto runs unpatched)."""
    if moto_version is None:
        from importlib.metadata import version

        moto_version = version("moto")
    reason = why_not(moto_version)
    if reason is not None:
        print(f"streamsim: moto runs unpatched: {reason}", file=sys.stderr, flush=True)
        return reason
    _patch_serializer()
    _patch_query()
    _patch_lookups()
    print(f"streamsim: moto patched (motopatch, moto {moto_version})", file=sys.stderr, flush=True)
    return None


def _patch_serializer() -> None:
    from moto.core.serialize import JSONSerializer

    if getattr(JSONSerializer, "_streamsim_patched", False):
        return
    generic = JSONSerializer._serialize

    def _serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and self.operation_model.service_model.service_name in _SERVICES
            and not getattr(self._value_picker, "response_transformers", None)
        ):
            try:
                serialized[key] = fast_attribute_value(value, self._base64)
                return
            except _Slow:
                pass
        generic(self, serialized, value, shape, key)

    JSONSerializer._serialize = _serialize  # type: ignore[method-assign]
    JSONSerializer._streamsim_patched = True  # type: ignore[attr-defined]


def _patch_query() -> None:
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_streamsim_patched", False):
        return
    generic = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return generic(self, hash_key, *args, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        # Requests are serialised in the child (backend._SerialisedApp): shadowing all_items on
        # this table for the length of one query is seen by no other request.
        self.all_items = lambda: partition
        try:
            return generic(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]
    Table._streamsim_patched = True  # type: ignore[attr-defined]


def _patch_lookups() -> None:
    import functools

    import moto.backends
    import moto.core.responses

    if getattr(moto.backends, "_streamsim_patched", False):
        return
    modules = tuple(moto.backends.list_of_moto_modules())  # moto's folder: fixed while we run
    moto.backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    method_names = moto.core.responses.method_names_from_class
    moto.core.responses.method_names_from_class = functools.cache(method_names)  # type: ignore[assignment]
    moto.backends._streamsim_patched = True  # type: ignore[attr-defined]
