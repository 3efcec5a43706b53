"""Writing many plays into the in-memory stream without one clock event per play.

Items are built from the plays' columns at once (no ``Play`` object per play), and a writer
process writes them ahead in blocks, each record stamped with its own time: the stream keeps a
record invisible until the clock reaches its time (``InMemoryStream.write(..., at=...)``), so
readers see exactly what per-play writes at those times would have shown them.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.stream.records import keys_json
from streamsim.clock import Clock

#: Key texts are built for chunks of 2**15 rows (``PlayRows.keys_bytes``) and the last 8 kept
#: (with the overlap, at about 100 bytes a text, some 35 MB): far more rows than are polled
#: in one moment (a shard read again after a long block rebuilds a chunk, a few ms).
_KEY_CHUNK_BITS = 15
_KEY_CHUNKS_KEPT = 8
#: Each chunk also holds this many rows of the next one, so a page spanning fewer rows than
#: that never needs two chunks.
_KEY_CHUNK_OVERLAP = 1 << (_KEY_CHUNK_BITS - 2)

#: How far ahead the writer writes (virtual seconds): one clock event per block.
BLOCK_SECONDS = 10.0


#: Plays whose key texts are built at a time (bounds the transient ISO texts: numpy's are
#: 4 bytes a character).
KEY_CHUNK = 1 << 18


def play_keys(plays: pd.DataFrame, chunk: int = KEY_CHUNK) -> pd.Series:
    """The Plays table's sort key per play (streamsim.game.plays.play_key), vectorised a chunk
    of plays at a time into one chunked Arrow text column (no Python string per play, and no
    text of every play held twice: tens of millions of plays at scale)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pandas.core.arrays.string_arrow import ArrowStringArray

    utc = plays["played_at"].dt.tz_convert("UTC").dt.floor("ms")
    years = utc.dt.year.to_numpy()
    if len(years) and (years.min() < 1000 or years.max() > 9999):  # other widths: as strftime
        iso_text = utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3]
        return iso_text + "Z#" + plays["play_id"].astype(str)
    del years
    ms = utc.dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
    del utc
    ids = plays["play_id"]
    sep = pa.scalar("Z#", pa.large_string())
    parts = []
    for start in range(0, len(ms), chunk):
        iso = pa.array(
            np.datetime_as_string(ms[start : start + chunk], unit="ms"), type=pa.large_string()
        )
        parts.append(
            pc.binary_join_element_wise(iso, _arrow_text(ids.iloc[start : start + chunk]), sep)
        )
    key = pa.chunked_array(parts, type=pa.large_string())
    dtype = pd.StringDtype("pyarrow", na_value=float("nan"))
    return pd.Series(ArrowStringArray(key, dtype=dtype), index=plays.index)


def _arrow_text(text: pd.Series) -> Any:
    """A text column as one Arrow large_string array (no Python string per row)."""
    import pyarrow as pa

    arrow = pa.array(text.astype(str))
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    return arrow.cast(pa.large_string())


#: The Plays item's attributes and the stream record's key attributes (``play_items``).
_STRING_ATTRIBUTES = ("player_id", "play_key", "play_id", "game", "played_at", "tz")
_NUMBER_ATTRIBUTES = ("score", "written_at")
_KEY_ATTRIBUTES = ("player_id", "play_key")


def play_record_sizes(plays: pd.DataFrame, written_at: np.ndarray) -> np.ndarray:
    """Each play's stream record SizeBytes (Keys plus NewImage of an INSERT), computed for all
    plays at once by the same item-size rules as ``stream_record_size`` [DOC-CAP] (a test
    compares them record by record)."""
    utc = plays["played_at"].dt.tz_convert("UTC").dt.floor("ms")
    years = utc.dt.year.to_numpy()
    if len(years) and years.min() >= 1000 and years.max() <= 9999:
        iso_len = np.full(len(plays), len("2024-01-01T00:00:00.000Z"), dtype=np.int64)
    else:  # years of other widths: measure the text itself
        iso_len = _utf8_len(utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z")
    play_id_len = _utf8_len(plays["play_id"].astype(str))
    player_len = _utf8_len(plays["player_id"].astype(str))
    # play_key = ISO + "#" + play_id (``play_keys``)
    values = {
        "player_id": player_len,
        "play_key": iso_len + 1 + play_id_len,
        "play_id": play_id_len,
        "game": _utf8_len(plays["game"].astype(str)),
        "played_at": iso_len,
        "tz": _utf8_len(plays["tz"].astype(str)),
    }
    millis = np.round(np.asarray(written_at, dtype=float) * 1000).astype(np.int64)
    numbers = {"score": plays["score"].to_numpy(dtype=np.int64), "written_at": millis}
    size = np.zeros(len(plays), dtype=np.int64)
    for name in _STRING_ATTRIBUTES:
        size += len(name.encode()) + values[name]
    for name in _NUMBER_ATTRIBUTES:
        size += len(name.encode()) + number_sizes(numbers[name])
    for name in _KEY_ATTRIBUTES:
        size += len(name.encode()) + values[name]
    return size


def number_sizes(values: np.ndarray) -> np.ndarray:
    """``number_size`` of integers, vectorised: 1 byte per two significant digits (leading and
    trailing zeroes trimmed) plus 1 [DOC-CAP]."""
    v = np.abs(np.asarray(values, dtype=np.int64))
    digits = np.where(v > 0, np.floor(np.log10(np.maximum(v, 1))).astype(np.int64) + 1, 0)
    # log10 is exact enough below 2**53 except right at powers of ten: fix those by comparison.
    digits = np.where((v > 0) & (v >= 10**digits), digits + 1, digits)
    digits = np.where((v > 0) & (v < 10 ** np.maximum(digits - 1, 0)), digits - 1, digits)
    trailing = np.zeros(len(v), dtype=np.int64)
    rest = v.copy()
    while True:
        more = (rest > 0) & (rest % 10 == 0)
        if not more.any():
            break
        trailing += more
        rest = np.where(more, rest // 10, rest)
    return (digits - trailing + 1) // 2 + 1


def _utf8_len(text: pd.Series) -> np.ndarray:
    """UTF-8 bytes of each text (Arrow's byte lengths: no Python string per row)."""
    import pyarrow.compute as pc

    return np.asarray(pc.binary_length(_arrow_text(text)), dtype=np.int64)


def play_items(plays: pd.DataFrame, written_at: np.ndarray) -> list[dict[str, Any]]:
    """The plays as DynamoDB items, like ``streamsim.game.playstore.play_to_item`` per play."""
    utc = plays["played_at"].dt.tz_convert("UTC").dt.floor("ms")
    iso = (utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z").tolist()
    keys = play_keys(plays).tolist()
    millis = np.round(np.asarray(written_at, dtype=float) * 1000).astype(np.int64).astype(str)
    columns = zip(
        plays["player_id"].astype(str).tolist(),
        keys,
        plays["play_id"].astype(str).tolist(),
        plays["game"].astype(str).tolist(),
        iso,
        plays["tz"].astype(str).tolist(),
        plays["score"].astype(np.int64).astype(str).tolist(),
        millis.tolist(),
        strict=True,
    )
    return [
        {
            "player_id": {"S": player},
            "play_key": {"S": key},
            "play_id": {"S": play_id},
            "game": {"S": game},
            "played_at": {"S": at},
            "tz": {"S": tz},
            "score": {"N": score},
            "written_at": {"N": ms},
        }
        for player, key, play_id, game, at, tz, score, ms in columns
    ]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class PlayRows:
    """The plays as compact columns (about 40 bytes a play), building each play's item and
    stream keys only when asked: exactly ``play_items(plays, written_at)[row]`` (a test
    compares them), so a bulk writer keeps no dict per play (``InMemoryStream.write_rows``)."""

    player_codes: np.ndarray
    players: tuple[str, ...]
    play_ids: np.ndarray
    game_codes: np.ndarray
    games: tuple[str, ...]
    played_ms: np.ndarray
    #: ISO texts of ``played_ms`` when some year is not four digits (else formatted per row).
    iso: tuple[str, ...] | None
    tz_codes: np.ndarray
    tzs: tuple[str, ...]
    scores: np.ndarray
    written_ms: np.ndarray

    @classmethod
    def from_frame(cls, plays: pd.DataFrame, written_at: np.ndarray) -> PlayRows:
        utc = plays["played_at"].dt.tz_convert("UTC").dt.floor("ms")
        years = utc.dt.year.to_numpy()
        iso = None
        if len(years) and (years.min() < 1000 or years.max() > 9999):
            iso = tuple((utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z").tolist())
        player_codes, players = pd.factorize(plays["player_id"].astype(str))
        game_codes, games = pd.factorize(plays["game"].astype(str))
        tz_codes, tzs = pd.factorize(plays["tz"].astype(str))
        ids = plays["play_id"].astype(str)
        return cls(
            player_codes=player_codes.astype(np.int32),
            players=tuple(players),
            # UTF-8 bytes, fixed width (NUL-padded; play ids contain no NUL character).
            play_ids=_fixed_bytes(ids),
            game_codes=game_codes.astype(np.int32),
            games=tuple(games),
            played_ms=(utc.astype("int64") // _unit_per_ms(utc)).to_numpy(np.int64),
            iso=iso,
            tz_codes=tz_codes.astype(np.int32),
            tzs=tuple(tzs),
            scores=plays["score"].to_numpy(dtype=np.int64),
            written_ms=np.round(np.asarray(written_at, dtype=float) * 1000).astype(np.int64),
        )

    def __len__(self) -> int:
        return len(self.scores)

    def _iso(self, row: int) -> str:
        if self.iso is not None:
            return self.iso[row]
        ms = int(self.played_ms[row])
        at = _EPOCH + timedelta(milliseconds=ms)
        return f"{at:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"

    def items(
        self, rows: Sequence[int] | np.ndarray
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """``(keys(row), new_image(row))`` for many rows, the columns indexed once for all."""
        at = np.asarray(rows, dtype=np.int64)
        if self.iso is not None:
            iso = [self.iso[r] for r in at.tolist()]
        else:
            iso = np.datetime_as_string(
                self.played_ms[at].astype("datetime64[ms]"), unit="ms", timezone="UTC"
            ).tolist()
        players = self.players
        games = self.games
        tzs = self.tzs
        out = []
        for player, played, play_id, game, tz, score, written in zip(
            self.player_codes[at].tolist(),
            iso,
            self.play_ids[at].tolist(),
            self.game_codes[at].tolist(),
            self.tz_codes[at].tolist(),
            self.scores[at].tolist(),
            self.written_ms[at].tolist(),
            strict=True,
        ):
            play_id = play_id.decode()
            player_id = {"S": players[player]}
            play_key = {"S": played + "#" + play_id}
            out.append(
                (
                    {"player_id": player_id, "play_key": play_key},
                    {
                        "player_id": player_id,
                        "play_key": play_key,
                        "play_id": {"S": play_id},
                        "game": {"S": games[game]},
                        "played_at": {"S": played},
                        "tz": {"S": tzs[tz]},
                        "score": {"N": str(score)},
                        "written_at": {"N": str(written)},
                    },
                )
            )
        return out

    @cached_property
    def _player_json(self) -> list[str]:
        return [f'"{p}"' if _plain_text(p) else json.dumps(p) for p in self.players]

    @cached_property
    def _plain_ids(self) -> np.ndarray:
        """Which play ids JSON writes unchanged (printable ASCII, no quote or backslash)."""
        return ~_needs_escape(self.play_ids)

    def keys_texts(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """``keys_json(keys(row))`` for many rows (the capture's key text), without the dicts."""
        return [t.decode() for t in self.keys_bytes(rows).tolist()]

    def keys_bytes(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The key texts of ``keys_texts`` as a bytes array (``S`` dtype; JSON writes them in
        ASCII, with no NUL), taken from texts built vectorised a chunk of rows at a time and
        kept for the last few chunks: a poll indexes them instead of formatting each record's
        text (the rows a poll reads were written moments before, so they share a chunk)."""
        at = np.asarray(rows, dtype=np.int64)
        if not len(at):
            return np.zeros(0, dtype="S1")
        low = int(np.minimum.reduce(at))
        first = low >> _KEY_CHUNK_BITS
        if int(np.maximum.reduce(at)) < ((first + 1) << _KEY_CHUNK_BITS) + _KEY_CHUNK_OVERLAP:
            return self._key_chunk(first)[at - (first << _KEY_CHUNK_BITS)]
        chunks = at >> _KEY_CHUNK_BITS  # a page across chunks: each chunk's rows in place
        parts = {int(c): self._key_chunk(int(c)) for c in np.unique(chunks).tolist()}
        out = np.zeros(len(at), dtype=f"S{max(p.dtype.itemsize for p in parts.values())}")
        for c, texts in parts.items():
            mask = chunks == c
            out[mask] = texts[at[mask] - (c << _KEY_CHUNK_BITS)]
        return out

    def _key_chunk(self, chunk: int) -> np.ndarray:
        cache = self._key_chunks
        texts = cache.get(chunk)
        if texts is not None:
            cache.move_to_end(chunk)
            return texts
        # Its rows and the first rows of the next chunk (a page near the end of a chunk is
        # served by that chunk alone).
        at = np.arange(
            chunk << _KEY_CHUNK_BITS,
            min(len(self), ((chunk + 1) << _KEY_CHUNK_BITS) + _KEY_CHUNK_OVERLAP),
        )
        if self.iso is not None or not self._plain_ids[at].all():
            texts = np.array([t.encode() for t in self._keys_texts_per_row(at)], dtype=bytes)
        else:
            iso = iso_ms_bytes(self.played_ms[at])
            add = np.strings.add
            texts = add(b'{"play_key":{"S":"', iso)
            texts = add(add(texts, b"#"), self.play_ids[at])
            texts = add(
                add(texts, b'"},"player_id":{"S":'), self._player_json_bytes[self.player_codes[at]]
            )
            texts = add(texts, b"}}")
        cache[chunk] = texts
        if len(cache) > _KEY_CHUNKS_KEPT:
            cache.popitem(last=False)
        return texts

    @cached_property
    def _key_chunks(self) -> OrderedDict[int, np.ndarray]:
        return OrderedDict()

    @cached_property
    def _player_json_bytes(self) -> np.ndarray:
        return np.array([p.encode() for p in self._player_json], dtype=bytes)

    def _keys_texts_per_row(self, at: np.ndarray) -> list[str]:
        """``keys_json(keys(row))`` formatted row by row (ids JSON escapes, five-digit years)."""
        iso = self._iso_texts(at)
        players = self._player_json
        ids = [i.decode() for i in self.play_ids[at].tolist()]
        if not self._plain_ids[at].all():
            return [
                f'{{"play_key":{{"S":{json.dumps(played + "#" + i)}}},'
                f'"player_id":{{"S":{players[p]}}}}}'
                for played, i, p in zip(iso, ids, self.player_codes[at].tolist(), strict=True)
            ]
        return [
            f'{{"play_key":{{"S":"{played}#{i}"}},"player_id":{{"S":{players[p]}}}}}'
            for played, i, p in zip(iso, ids, self.player_codes[at].tolist(), strict=True)
        ]

    def _iso_texts(self, at: np.ndarray) -> list[str]:
        if self.iso is not None:
            return [self.iso[r] for r in at.tolist()]
        return list(
            np.datetime_as_string(
                self.played_ms[at].astype("datetime64[ms]"), unit="ms", timezone="UTC"
            ).tolist()
        )

    def keys(self, row: int) -> dict[str, Any]:
        return {
            "player_id": {"S": self.players[self.player_codes[row]]},
            "play_key": {"S": self._iso(row) + "#" + self.play_ids[row].decode()},
        }

    def new_image(self, row: int) -> dict[str, Any]:
        at = self._iso(row)
        play_id = self.play_ids[row].decode()
        return {
            "player_id": {"S": self.players[self.player_codes[row]]},
            "play_key": {"S": at + "#" + play_id},
            "play_id": {"S": play_id},
            "game": {"S": self.games[self.game_codes[row]]},
            "played_at": {"S": at},
            "tz": {"S": self.tzs[self.tz_codes[row]]},
            "score": {"N": str(int(self.scores[row]))},
            "written_at": {"N": str(int(self.written_ms[row]))},
        }


def play_image_json_sizes(rows: PlayRows) -> np.ndarray:
    """``json_size(Keys) + json_size(NewImage)`` of each play's stream record as its Lambda
    event record carries them (compact JSON, non-ASCII escaped), for all plays at once: the
    part of the record's invoke-payload size that varies by play (``InMemoryStream.
    write_rows``; ``tests/test_stream_blocks.py`` compares the payload sizes it gives with
    ``event_json_size`` of the built records)."""
    n = len(rows)

    def text(lengths: np.ndarray) -> np.ndarray:  # "name":{"S":"value"} minus name and value
        return lengths + 9

    def unique_json(codes: np.ndarray, values: tuple[str, ...]) -> np.ndarray:
        table = np.array([len(json.dumps(v)) for v in values] or [0], dtype=np.int64)
        return table[codes]

    player = unique_json(rows.player_codes, rows.players)
    game = unique_json(rows.game_codes, rows.games)
    tz = unique_json(rows.tz_codes, rows.tzs)
    if rows.iso is None:
        iso = np.full(n, len("2024-01-01T00:00:00.000Z") + 2, dtype=np.int64)
    else:
        iso = np.array([len(t) + 2 for t in rows.iso], dtype=np.int64)
    width = rows.play_ids.dtype.itemsize
    play_id = (
        np.count_nonzero(rows.play_ids.view(np.uint8).reshape(n, width), axis=1) + 2
        if n
        else np.zeros(0, dtype=np.int64)
    )
    # Multi-byte UTF-8 or escaped characters: the JSON text itself.
    escaped = np.flatnonzero(_needs_escape(rows.play_ids))
    for r in escaped.tolist():
        play_id[r] = len(json.dumps(rows.play_ids[r].decode()))
    play_key = iso + play_id - 1  # "iso#id": the id's quotes less one, plus "#"
    score = _signed_digits(rows.scores) + 2
    written = _signed_digits(rows.written_ms) + 2
    names = {
        "player_id": player,
        "play_key": play_key,
        "play_id": play_id,
        "game": game,
        "played_at": iso,
        "tz": tz,
        "score": score,
        "written_at": written,
    }
    image = 2 + len(names) - 1 + sum(text(v) + len(k) for k, v in names.items())
    keys = 2 + 1 + text(player) + len("player_id") + text(play_key) + len("play_key")
    return np.asarray(image + keys, dtype=np.int64)


#: The ASCII digits of 0..99 and 0..999, zero-padded (``iso_ms_bytes``).
_DIGITS_2 = np.frombuffer(b"".join(b"%02d" % i for i in range(100)), dtype=np.uint8).reshape(100, 2)
_DIGITS_3 = np.frombuffer(b"".join(b"%03d" % i for i in range(1000)), dtype=np.uint8).reshape(
    1000, 3
)


def iso_ms_bytes(ms: np.ndarray) -> np.ndarray:
    """``numpy.datetime_as_string(ms as datetime64[ms], unit="ms", timezone="UTC")`` as ASCII
    bytes (``S24``, ``YYYY-MM-DDTHH:MM:SS.mmmZ``) for times in the years 1000 to 9999, in
    integer arithmetic: a few dozen array operations instead of a formatted text per time (the
    dates of the days the times span computed once each, then gathered)."""
    ms = np.asarray(ms, dtype=np.int64)
    out = np.empty((len(ms), 24), dtype=np.uint8)
    if not len(ms):
        return out.view("S24").ravel()
    days, in_day = np.divmod(ms, 86_400_000)
    first = int(np.minimum.reduce(days))
    span = int(np.maximum.reduce(days)) - first + 1
    if span <= 4 * len(ms):
        out[:, :10] = _date_bytes(np.arange(first, first + span, dtype=np.int64))[days - first]
    else:
        out[:, :10] = _date_bytes(days)
    out[:, 10:] = np.frombuffer(b"T00:00:00.000Z", dtype=np.uint8)
    seconds, milli = np.divmod(in_day, 1000)
    hour, rest = np.divmod(seconds, 3600)
    minute, second = np.divmod(rest, 60)
    two = _DIGITS_2  # digits from a table of their ASCII: a gather per field
    out[:, 11:13] = two[hour]
    out[:, 14:16] = two[minute]
    out[:, 17:19] = two[second]
    out[:, 20:23] = _DIGITS_3[milli]
    return out.view("S24").ravel()


def _date_bytes(days: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` (ASCII, one row of 10 bytes each) of days since 1970-01-01, in the
    proleptic Gregorian calendar (H. Hinnant's ``civil_from_days``), years 1000 to 9999."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    century, year_in = np.divmod(yoe + era * 400 + (month <= 2), 100)
    out = np.empty((len(days), 10), dtype=np.uint8)
    two = _DIGITS_2
    out[:, 0:2] = two[century]
    out[:, 2:4] = two[year_in]
    out[:, 5:7] = two[month]
    out[:, 8:10] = two[day]
    out[:, 4] = out[:, 7] = ord("-")
    return out


def _needs_escape(texts: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """Which fixed-width UTF-8 texts JSON does not write as they are (a byte outside printable
    ASCII, a quote or a backslash; NUL padding aside)."""
    n = len(texts)
    out = np.zeros(n, dtype=bool)
    width = texts.dtype.itemsize
    for start in range(0, n, chunk):
        part = texts[start : start + chunk].view(np.uint8).reshape(-1, width)
        bad = ((part < 0x20) & (part != 0)) | (part > 0x7E) | (part == 0x22) | (part == 0x5C)
        out[start : start + len(part)] = bad.any(axis=1)
    return out


def _signed_digits(values: np.ndarray) -> np.ndarray:
    """``len(str(v))`` of integers."""
    v = np.asarray(values, dtype=np.int64)
    powers = np.array([10**i for i in range(1, 19)], dtype=np.int64)
    return np.searchsorted(powers, np.abs(v), side="right") + 1 + (v < 0)


def _fixed_bytes(text: pd.Series, chunk: int = 1 << 20) -> np.ndarray:
    """UTF-8 texts as one fixed-width bytes array, copied from Arrow's buffers a chunk at a time
    (no bytes object per play)."""
    arrow = _arrow_text(text)
    n = len(arrow)
    lengths = _utf8_len(text)
    width = max(int(lengths.max()) if n else 1, 1)
    out = np.zeros(n, dtype=f"S{width}")
    if not n:
        return out
    _, offsets_buffer, data_buffer = arrow.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[arrow.offset : arrow.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else None
    cells = out.view(np.uint8).reshape(n, width)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        length = lengths[start:stop]
        total = int(length.sum())
        if not total or data is None:
            continue
        row = np.repeat(np.arange(start, stop), length)
        begin = np.repeat(offsets[start:stop], length)
        column = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
        cells[row, column] = data[begin + column]
    return out


def _unit_per_ms(utc: pd.Series) -> int:
    """Datetime units per millisecond of a datetime column (pandas keeps ns, us, ms or s)."""
    unit = np.datetime_data(utc.dt.tz_localize(None).to_numpy().dtype)[0]
    return {"ns": 1_000_000, "us": 1_000, "ms": 1}.get(unit, 0) or _fail_unit(unit)


def _fail_unit(unit: str) -> int:
    raise ValueError(f"unsupported datetime unit {unit!r}")


def route_hashes(player_id: pd.Series) -> np.ndarray:
    """Each play's routing hash: CRC-32 of its partition key's ``keys_json``, as the stream
    routes a write (``InMemoryStream(partition_key="player_id")``); once per player."""
    codes, uniques = pd.factorize(player_id)
    hashes = np.array(
        [
            zlib.crc32(
                (
                    f'{{"player_id":{{"S":"{p}"}}}}'  # keys_json of a plain text, directly
                    if _plain_text(p)
                    else keys_json({"player_id": {"S": p}})
                ).encode()
            )
            for p in map(str, uniques.tolist())
        ],
        dtype=np.int64,
    )
    return hashes[codes]


def _plain_text(text: str) -> bool:
    """JSON writes ``text`` unchanged (printable ASCII, no quote or backslash)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def write_ahead(
    clock: Clock,
    stream: InMemoryStream,
    times: Sequence[float] | np.ndarray,
    items: Sequence[dict[str, Any]],
    *,
    block_seconds: float = BLOCK_SECONDS,
    before_block: Callable[[float], None] | None = None,
    sizes: np.ndarray | None = None,
    route_hashes: np.ndarray | None = None,
    rows: PlayRows | None = None,
    image_sizes: np.ndarray | None = None,
) -> Generator[Any, Any, None]:
    """A process: write ``items[i]`` at ``times[i]`` (non-decreasing), a block at a time; ends
    at the last item's time. ``before_block(now)`` runs before each block (e.g. a shard
    rollover, which must not happen while records are written ahead). ``sizes`` and
    ``route_hashes``: each record's SizeBytes and routing hash, computed once for all
    (``play_record_sizes``, ``route_hashes``), so the stream computes neither per record.
    ``rows`` (with ``sizes`` and ``route_hashes``; ``items`` is then ignored): the plays as
    columns, written a block at a time with ``InMemoryStream.write_rows`` (no dict per play);
    ``image_sizes``: their ``play_image_json_sizes``, so readers take them as columns."""
    n = len(times)
    stamps = np.asarray(times, dtype=float)
    i = 0
    while i < n:
        now = clock.now()
        if stamps[i] > now:
            yield clock.sleep(float(stamps[i]) - now)
            now = clock.now()
        if before_block is not None:
            before_block(now)
        end = int(np.searchsorted(stamps, now + block_seconds, side="left"))
        end = max(end, i + 1)
        if rows is not None and sizes is not None and route_hashes is not None:
            stream.write_rows(
                rows,
                np.arange(i, end),
                np.maximum(stamps[i:end], now),
                sizes[i:end],
                route_hashes[i:end],
                None if image_sizes is None else image_sizes[i:end],
            )
            i = end
            if i < n:
                yield clock.sleep(min(block_seconds, float(stamps[i]) - clock.now()))
            continue
        at = np.maximum(stamps[i:end], now).tolist()
        size = sizes[i:end].tolist() if sizes is not None else [None] * (end - i)
        hashes = route_hashes[i:end].tolist() if route_hashes is not None else [None] * (end - i)
        write = stream.write
        for j in range(i, end):
            item = items[j]
            k = j - i
            write(
                {"player_id": item["player_id"], "play_key": item["play_key"]},
                item,
                at=at[k],
                size_bytes=size[k],
                route_hash=hashes[k],
            )
        i = end
        if i < n:
            yield clock.sleep(min(block_seconds, float(stamps[i]) - clock.now()))
    if n:
        last = float(stamps[-1])
        if last > clock.now():
            yield clock.sleep(last - clock.now())
