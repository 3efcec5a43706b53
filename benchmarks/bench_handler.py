"""Badge handler cost per play against the length of the player's history, both strategies.

Against the embedded moto server (a real HTTP endpoint). For each history length, a player
with that many earlier plays gets one new play; we time the handler on that play's stream
record (median of --repeat runs) and count the requests it sent. read-all Queries the whole
history (the blog's way); incremental reads a state item and a short key range.

    .venv/bin/python benchmarks/bench_handler.py [--lengths 0,10,100,400] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta, timezone

from streamsim.aws.backend import open_backend
from streamsim.aws.tables import ACHIEVEMENTS, PLAYER_STATE, PLAYS, create_table
from streamsim.game.handler import BadgeHandler, HandlerSettings
from streamsim.game.plays import Play
from streamsim.game.playstore import play_to_item, write_play

START = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="0,10,100,400")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    with open_backend() as backend:
        dynamodb = backend.client("dynamodb")
        for spec in (PLAYS, ACHIEVEMENTS, PLAYER_STATE):
            create_table(dynamodb, spec)
        calls: list[str] = []
        dynamodb.meta.events.register(
            "before-call.*.*", lambda model, **_: calls.append(model.name)
        )
        print(f"backend: {backend.info.name} {backend.info.version} (embedded, serialised)")
        print(
            f"{'history':>8} {'read-all ms':>12} {'requests':>9} {'incremental ms':>15} {'requests':>9} {'ratio':>7}"
        )
        for n in lengths:
            row = []
            for strategy in ("read-all", "incremental"):
                times, requests = [], []
                for r in range(args.repeat):
                    player = f"{strategy}-{n}-{r}"
                    history = [
                        Play(player, f"h{i:05d}", "chess", START + timedelta(hours=i), "UTC", i)
                        for i in range(n)
                    ]
                    handler = BadgeHandler(dynamodb, HandlerSettings(strategy=strategy))
                    for (
                        play
                    ) in history:  # the table (and, for incremental, the state) are up to date
                        write_play(dynamodb, play)
                    if strategy == "incremental":
                        for play in history:
                            handler.process(_record(play))
                    new = Play(player, "new", "chess", START + timedelta(hours=n + 1), "UTC", 5)
                    write_play(dynamodb, new)
                    calls.clear()
                    t0 = time.perf_counter()
                    handler.process(_record(new))
                    times.append((time.perf_counter() - t0) * 1000)
                    requests.append(len(calls))
                row.append((statistics.median(times), statistics.median(requests)))
            (ra, ra_req), (inc, inc_req) = row
            print(
                f"{n:>8} {ra:>12.1f} {ra_req:>9.0f} {inc:>15.1f} {inc_req:>9.0f} {ra / inc:>6.1f}x"
            )


def _record(play: Play) -> dict:
    return {
        "eventName": "INSERT",
        "dynamodb": {"NewImage": play_to_item(play), "SequenceNumber": "1"},
    }


if __name__ == "__main__":
    main()
