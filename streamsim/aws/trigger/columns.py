"""Rows kept as columns: a list of named tuples that costs bytes per row, not Python objects.

A capture of a 36 M-record run cannot keep a named tuple (and its strings) per record: about
400 bytes each. ``RowColumns`` looks like the list it replaces (append, len, index, iterate: the
same tuples come back) but keeps each field as a compact column: repeated texts as codes, texts
as UTF-8 bytes, sequence numbers as 64-bit offsets, numbers in arrays; ``frame()`` builds the
DataFrame from the columns without a Python object per row (free texts ``str``, repeated texts
as categoricals of strings, numbers int64/float64: the values of a DataFrame of the tuples).
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")

#: Texts converted a chunk at a time when building a frame (bounds the transient objects).
_CHUNK = 1 << 18


class _Codes:
    """Few distinct values (shard ids, dispositions, None): a code per row."""

    def __init__(self) -> None:
        self.codes = array("i")
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}
        self._append_code = self.codes.append

    def append(self, value: Any) -> None:
        try:
            self._append_code(self._index[value])
        except KeyError:
            self._index[value] = len(self.values)
            self.values.append(value)
            self._append_code(self._index[value])

    def extend_block(self, value: Any, n: int) -> None:
        """``n`` rows of one value (a block's shard, mapping, disposition)."""
        code = self._index.get(value)
        if code is None:
            code = self._index[value] = len(self.values)
            self.values.append(value)
        self.codes.extend(array("i", [code]) * n)

    def extend_many(self, values: Any) -> None:
        for value in values:
            self.append(value)

    def __getitem__(self, i: int) -> Any:
        return self.values[self.codes[i]]

    def series(self, release: bool = False) -> Any:
        """Texts (None: missing) as a pandas categorical of strings: a byte or two per row,
        not the text (runschema accepts a text column stored so); other values as objects."""
        import numpy as np
        import pandas as pd

        codes = np.frombuffer(self.codes, dtype=np.int32)
        values = self.values
        if all(isinstance(v, str) or v is None for v in values):
            texts: dict[str, int] = {}  # plain str (a str enum's value), code in the categories
            for v in values:
                if v is not None:
                    texts.setdefault(str.__str__(v), len(texts))
            remap = np.array([-1 if v is None else texts[str.__str__(v)] for v in values], np.int32)
            dtype = pd.CategoricalDtype(pd.Index(list(texts), dtype="str"))
            return pd.Series(pd.Categorical.from_codes(remap[codes], dtype=dtype))
        return pd.Series([values[c] for c in codes.tolist()], dtype=object)


class _Text:
    """Any texts: UTF-8 bytes and offsets (None allowed)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.offsets = array("q", [0])
        self.nulls: set[int] = set()

    def append(self, value: str | None) -> None:
        if value is None:
            self.nulls.add(len(self.offsets) - 1)
        else:
            self.data += value.encode("utf-8", "surrogatepass")
        self.offsets.append(len(self.data))

    def extend_many(self, values: Any) -> None:
        """Many texts at once: a fixed-width bytes array (``S`` dtype, no NUL inside), or
        strings (joined and encoded once when all are ASCII)."""
        import numpy as np

        if isinstance(values, FixedTexts):
            width = values.texts.dtype.itemsize
            self.data += values.texts.tobytes()
            start = self.offsets[-1]
            ends = np.arange(1, len(values.texts) + 1, dtype=np.int64) * width + start
            self.offsets.frombytes(ends.tobytes())
            return
        if isinstance(values, np.ndarray) and values.dtype.kind == "S":
            width = values.dtype.itemsize
            lengths = np.char.str_len(values).astype(np.int64)
            if (lengths == width).all():
                self.data += values.tobytes()
            else:
                self.data += b"".join(values.tolist())
            ends = np.cumsum(lengths) + self.offsets[-1]
            self.offsets.frombytes(ends.astype(np.int64).tobytes())
            return
        texts = values if isinstance(values, list) else list(values)
        try:
            joined = "".join(texts)
        except TypeError:  # a None among them
            joined = None
        if joined is None or not joined.isascii():
            for text in texts:
                self.append(text)
            return
        self.data += joined.encode("ascii")
        # Running ends from the last offset, in C (no array per call).
        ends = itertools.accumulate(itertools.chain((self.offsets[-1],), map(len, texts)))
        next(ends)
        self.offsets.extend(ends)

    def extend_block(self, value: str | None, n: int) -> None:
        for _ in range(n):
            self.append(value)

    def __getitem__(self, i: int) -> str | None:
        if i in self.nulls:
            return None
        return self.data[self.offsets[i] : self.offsets[i + 1]].decode("utf-8", "surrogatepass")

    def series(self, release: bool = False) -> Any:
        """The texts as an Arrow-backed str column. ``release`` (the store is dropped next):
        the column takes the bytes as they are, without a copy."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        n = len(self.offsets) - 1
        valid = None
        if self.nulls:
            mask = np.ones(n, dtype=bool)
            mask[list(self.nulls)] = False
            valid = pa.py_buffer(np.packbits(mask, bitorder="little").tobytes())
        # Shared buffers pin the bytearray (it could no longer grow): only when released.
        arrow = pa.LargeStringArray.from_buffers(
            n,
            pa.py_buffer(self.offsets if release else bytes(self.offsets)),
            pa.py_buffer(self.data if release else bytes(self.data)),
            valid,
            len(self.nulls),
        )
        return _arrow_series(arrow, pd)


class _Hex:
    """32-character texts ending in 16 lowercase hex digits (eventIDs: a stream's 16-digit
    prefix, then 16 digits from the sequence number): the prefix as a code and the digits as
    8 bytes, 12 bytes a row instead of 40; any other text is kept as it is."""

    def __init__(self) -> None:
        self.prefixes = _Codes()
        self.digits = bytearray()  # 8 bytes a row: the 16 hex digits as bytes.fromhex reads them
        self.other: dict[int, str | None] = {}
        self._n = 0

    def append(self, value: str | None) -> None:
        if type(value) is str and len(value) == 32:
            tail = value[16:]
            if tail.isalnum() and tail.lower() == tail:  # lowercase, no sign or space
                try:
                    self.digits += bytes.fromhex(tail)
                except ValueError:  # letters past f
                    pass
                else:
                    self.prefixes.append(value[:16])
                    self._n += 1
                    return
        self.other[self._n] = value
        self.prefixes.append(None)
        self.digits += bytes(8)
        self._n += 1

    def extend_many(self, values: Any) -> None:
        """Many texts at once. A ``FixedTexts`` block (or ``S`` array) of 32-byte eventIDs whose last 16 bytes
        are all lowercase hex digits is converted in one pass (the same bytes ``append`` would
        keep); anything else row by row."""
        import numpy as np

        if isinstance(values, np.ndarray) and values.dtype.kind == "S":
            values = FixedTexts(values)  # bytes texts (a block's eventIDs), as ``_Text`` takes
        if isinstance(values, FixedTexts):
            texts = values.texts
            if texts.dtype.itemsize == 32 and len(texts):
                m = np.frombuffer(texts.tobytes(), dtype=np.uint8).reshape(-1, 32)
                tail = m[:, 16:]
                digit = (tail >= 0x30) & (tail <= 0x39)
                if (digit | ((tail >= 0x61) & (tail <= 0x66))).all():
                    nibbles = np.where(digit, tail - 0x30, tail - 0x57).astype(np.uint8)
                    self.digits += ((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).tobytes()
                    prefixes = np.ascontiguousarray(m[:, :16]).view("S16").ravel()
                    if (prefixes == prefixes[0]).all():
                        self.prefixes.extend_block(prefixes[0].decode("ascii"), len(texts))
                    else:
                        self.prefixes.extend_many(p.decode("ascii") for p in prefixes.tolist())
                    self._n += len(texts)
                    return
            values = [t.decode("utf-8", "surrogatepass") for t in texts.tolist()]
        for value in values:
            self.append(value)

    def extend_block(self, value: str | None, n: int) -> None:
        for _ in range(n):
            self.append(value)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> str | None:
        if i in self.other:
            return self.other[i]
        return f"{self.prefixes[i]}{self.digits[8 * i : 8 * i + 8].hex()}"

    def series(self, release: bool = False) -> Any:
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute as pc

        n = self._n
        prefixes = self.prefixes.values
        codes = np.frombuffer(self.prefixes.codes, dtype=np.int32)
        digits = np.frombuffer(self.digits, dtype=np.uint8)
        pairs = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint16)
        chunks = [pa.array([], type=pa.large_string())]
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            if self.other and any(start <= i < stop for i in self.other):
                texts = [self[i] for i in range(start, stop)]
                chunks.append(pa.array(texts, type=pa.large_string()))
                continue
            # each of the 8 bytes as its 2 hex digits: 16 bytes a row, after its prefix
            part = digits[8 * start : 8 * stop]
            low = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), stop - start, [None, pa.py_buffer(pairs[part])]
            )
            high = pa.array(prefixes, type=pa.large_string()).take(pa.array(codes[start:stop]))
            chunks.append(
                pc.binary_join_element_wise(
                    high,
                    pc.cast(pc.cast(low, pa.large_binary()), pa.large_string()),
                    pa.scalar("", pa.large_string()),
                )
            )
        return _arrow_series(pa.chunked_array(chunks[1:] or chunks), pd)


class _Decimal:
    """Decimal texts (sequence numbers): a 64-bit offset from the first value per row; any text
    that is not a plain decimal number, or out of reach, is kept as it is."""

    def __init__(self) -> None:
        self.offsets = array("q")
        self.base: int | None = None
        self.other: dict[int, str | None] = {}

    def append(self, value: str | None) -> None:
        # A plain decimal: ASCII digits without a leading zero (str(int(value)) == value).
        if (
            type(value) is str
            and value.isascii()
            and value.isdigit()
            and (value[0] != "0" or value == "0")
        ):
            number = int(value)
            if self.base is None:
                self.base = number
            offset = number - self.base
            if -(2**63) <= offset < 2**63:
                self.offsets.append(offset)
                return
        self.other[len(self.offsets)] = value
        self.offsets.append(0)

    def extend_offsets(self, base: int, offsets: Any) -> None:
        """Decimal numbers ``base + offsets[i]`` (a block's sequence numbers) at once."""
        import numpy as np

        if self.base is None and len(offsets):
            self.base = base
        shift = base - (self.base or 0)
        if offsets.dtype == np.int64 and shift == 0 and base >= 2**63:
            # base + any int64 offset is a plain decimal >= 0: stored as it is.
            self.offsets.frombytes(offsets.tobytes())
            return
        if offsets.dtype == np.int64 and len(offsets):
            low, high = int(offsets.min()) + shift, int(offsets.max()) + shift
            if -(2**63) <= low and high < 2**63 and base + int(offsets.min()) >= 0:
                self.offsets.frombytes((offsets + shift).astype(np.int64).tobytes())
                return
        self.extend_many(str(base + int(v)) for v in offsets.tolist())

    def extend_many(self, values: Any) -> None:
        for value in values:
            self.append(value)

    def extend_block(self, value: str | None, n: int) -> None:
        for _ in range(n):
            self.append(value)

    def __getitem__(self, i: int) -> str | None:
        if i in self.other:
            return self.other[i]
        assert self.base is not None
        return str(self.base + self.offsets[i])

    def series(self, release: bool = False) -> Any:
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(self.offsets)
        offsets = np.frombuffer(self.offsets, dtype=np.int64)
        split = 10**18
        if n and not self.other and self.base is not None and 0 <= self.base < 2**62 * split:
            high_base, low_base = divmod(self.base, split)
            if low_base + int(offsets.min()) >= 0 and low_base + int(offsets.max()) < 2**63:
                # base + offset = high * 10**18 + low, written as text without a Python int
                # each, a chunk at a time (bounds the transient texts)
                parts = []
                for start in range(0, n, _CHUNK):
                    low = offsets[start : start + _CHUNK] + low_base
                    high = low // split + high_base
                    low = low % split
                    low_text = pc.cast(pa.array(low), pa.large_string())
                    high_text = pc.cast(pa.array(high), pa.large_string())
                    joined = pc.binary_join_element_wise(
                        high_text, pc.utf8_lpad(low_text, 18, "0"), pa.scalar("", pa.large_string())
                    )
                    parts.append(pc.if_else(pa.array(high > 0), joined, low_text))
                return _arrow_series(pa.chunked_array(parts), pd)
        chunks = [pa.array([], type=pa.large_string())]
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            chunks.append(pa.array([self[i] for i in range(start, stop)], type=pa.large_string()))
        return _arrow_series(pa.chunked_array(chunks[1:] or chunks), pd)


class _Numbers:
    """Floats or integers in an array; ``optional``: None kept as NaN (times are never NaN)."""

    def __init__(self, code: str, optional: bool = False) -> None:
        self.values: array[Any] = array(code)
        self.optional = optional

    def append(self, value: Any) -> None:
        self.values.append(math.nan if value is None else value)

    def extend_many(self, values: Any) -> None:
        """Numbers at once (an array: NaN stands for None where ``optional``)."""
        import numpy as np

        dtype = np.float64 if self.values.typecode == "d" else np.int64
        self.values.frombytes(np.asarray(values, dtype=dtype).tobytes())

    def extend_block(self, value: Any, n: int) -> None:
        self.values.extend(array(self.values.typecode, [math.nan if value is None else value]) * n)

    def __getitem__(self, i: int) -> Any:
        value = self.values[i]
        if self.optional and value != value:
            return None
        return value

    def series(self, release: bool = False) -> Any:
        import numpy as np
        import pandas as pd

        dtype = np.float64 if self.values.typecode == "d" else np.int64
        numbers = np.frombuffer(self.values, dtype=dtype)  # released: shared, not copied
        return pd.Series(numbers if release else numbers.copy(), dtype=dtype)


def _arrow_series(arrow: Any, pd: Any) -> Any:
    from pandas.core.arrays.string_arrow import ArrowStringArray

    dtype = pd.StringDtype("pyarrow", na_value=float("nan"))
    return pd.Series(ArrowStringArray(arrow, dtype=dtype))


class Same:
    """One value for every row of a block (``RowColumns.extend_columns``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class FixedTexts:
    """ASCII texts that each fill the width of a fixed-width bytes array (``S`` dtype), such as
    eventIDs (``RowColumns.extend_columns``)."""

    __slots__ = ("texts",)

    def __init__(self, texts: Any) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)


class Decimals:
    """Decimal numbers as ``base + offsets`` (``RowColumns.extend_columns``)."""

    __slots__ = ("base", "offsets")

    def __init__(self, base: int, offsets: Any) -> None:
        self.base = base
        self.offsets = offsets


#: Column kinds: repeated texts, free texts, decimal texts, hex ids, floats, optional floats,
#: integers.
KINDS: dict[str, Any] = {
    "code": _Codes,
    "text": _Text,
    "decimal": _Decimal,
    "hex": _Hex,
    "float": lambda: _Numbers("d"),
    "optional_float": lambda: _Numbers("d", optional=True),
    "int": lambda: _Numbers("q"),
}


class RowColumns(Sequence[T], Generic[T]):
    """A list of ``row_type`` named tuples kept as columns, one kind per field (``KINDS``)."""

    def __init__(self, row_type: Any, kinds: dict[str, str]) -> None:
        self.row_type = row_type
        self.fields: tuple[str, ...] = tuple(row_type._fields)
        self._kinds = dict(kinds)
        self._reset()

    def _reset(self) -> None:
        self._columns: list[Any] = [KINDS[self._kinds[name]]() for name in self.fields]
        self._appends = [column.append for column in self._columns]
        self._n = 0

    def append(self, row: T) -> None:
        for append, value in zip(self._appends, row, strict=True):  # type: ignore[call-overload]
            append(value)
        self._n += 1

    def extend(self, rows: Sequence[T]) -> None:
        for row in rows:
            self.append(row)

    def extend_columns(self, n: int, values: dict[str, Any]) -> None:
        """Append ``n`` rows given by column: per field a ``Same(value)`` for every row, a
        ``Decimals(base, offsets)`` for decimal texts, or a sequence / array of ``n`` values.
        The rows read back exactly as ``n`` appends of the tuples would (a test compares)."""
        if not n:
            return
        for name, column in zip(self.fields, self._columns, strict=True):
            value = values[name]
            if isinstance(value, Same):
                column.extend_block(value.value, n)
            elif isinstance(value, Decimals):
                column.extend_offsets(value.base, value.offsets)
            else:
                if len(value) != n:
                    raise ValueError(f"column {name} has {len(value)} values, not {n}")
                column.extend_many(value)
        self._n += n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("row index out of range")
        return self.row_type(*(column[i] for column in self._columns))  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[T]:
        for i in range(self._n):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RowColumns | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RowColumns({self.row_type.__name__}, {self._n} rows)"

    def frame(self, release: bool = False) -> Any:
        """The rows as a DataFrame, built column by column. ``release``: empty the store as
        each column is converted (the rows and the frame are never both held in full)."""
        import pandas as pd

        if not self._n:
            return pd.DataFrame(columns=list(self.fields))
        data = {}
        if release:
            self._appends = []  # (each holds its column: the columns go as they are converted)
        for i, name in enumerate(self.fields):
            data[name] = self._columns[i].series(release)
            if release:
                self._columns[i] = None
        if release:
            self._reset()
        return pd.DataFrame(data, copy=False)
