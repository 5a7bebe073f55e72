"""Benchmark: the floor of a chained write on SQLite — what the chain's own work costs when
nothing else is stored or built (issue 18, goal 5: 100-event commands ≥ 0.85 of plain).

Run: ``python -m bench.chain_floor [--rounds 8] [--commands 150]``. Four sides save the same
100-event aggregates through eventsourcing on SQLite files, in alternating rounds:

- ``plain``: eventsourcing as it is (bench/ledger_writes.py's ``PlainApplication``);
- ``bare``: plain, plus the least a verifiable chain needs — each state's SHA-256, one Ed25519
  signature per command over :func:`~ledger.chain.entries.command_message`, each entry's hash
  (:func:`entry_hashes`, which a test holds equal to :func:`~ledger.chain.entries.link_command`'s),
  and in the event's own row only what cannot be recomputed: the entry hash, and on a command's
  first row its timestamp, key id, signature and size;
- ``linked``: ``bare`` with the ledger's own :func:`~ledger.chain.entries.link_command` (entry
  objects) in place of :func:`entry_hashes`;
- ``ledger``: the ledger itself (``open_ledger``: chain table, indexes, reads by aggregate).

Both floors keep no chain table and no index beyond the library's, so they cannot answer what
the ledger answers from its chain rows (an aggregate's entries, the key events, tamper reports
field by field); they measure what a chained write costs at the least, not a design.
Each side's CPU per event is this process's CPU time (SQLite runs in it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from functools import partial
from hashlib import sha256
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from bench.ledger_writes import PlainApplication, _aggregate, _plain_env, registered_signer
from ledger.chain.entries import (
    FORMAT_VERSION,
    GENESIS_HASH,
    EventDigest,
    NormalIds,
    PendingCommand,
    command_message,
    link_command,
)
from ledger.chain.recorders.base import digest_events, now_micros, originator_id_text
from ledger.chain.recorders.row_inserts import insert_rows
from ledger.chain.signing import Ed25519Signer, key_id_of, verify_signature
from ledger.encoding import normal_form_packer, pack_normal_form
from ledger.services.application import open_ledger

EVENTS = 100
_FIRST = ("originator_id", "originator_version", "topic", "state", "entry_hash")
_COMMAND = ("timestamp", "key_id", "signature", "command_size")


def _key(name: str) -> bytes:
    return pack_normal_form(name)


def entry_hashes(
    digests: Sequence[EventDigest],
    *,
    head_sequence: int,
    head_hash: bytes,
    timestamp: int,
    key_id: bytes,
    signature: bytes,
) -> list[bytes]:
    """Each entry's hash of one signed command placed after the head: the canonical 11-field
    map of FORMAT.md, packed piece by piece with no entry object (the least Python there is)."""
    pack = normal_form_packer()
    normal = NormalIds()
    size = len(digests)
    shared_1 = pack(size) + _key("key_id") + pack(key_id) + _key("originator_id")
    shared_2 = _key("signature") + pack(signature) + _key("state_hash")
    shared_3 = _key("timestamp") + pack(timestamp) + _key("topic")
    head = b"\x8b" + _key("command") + b"\x92"
    version, prev_key, sequence_key = _key("originator_version"), _key("prev"), _key("sequence")
    tail = _key("v") + pack_normal_form(FORMAT_VERSION)
    hashes: list[bytes] = []
    prev, sequence = head_hash, head_sequence
    for index, d in enumerate(digests):
        sequence += 1
        prev = sha256(
            b"".join(
                (
                    head,
                    pack(index),
                    shared_1,
                    pack(normal(d.originator_id)),
                    version,
                    pack(d.originator_version),
                    prev_key,
                    pack(prev),
                    sequence_key,
                    pack(sequence),
                    shared_2,
                    pack(d.state_hash),
                    shared_3,
                    pack(d.topic),
                    tail,
                )
            )
        ).digest()
        hashes.append(prev)
    return hashes


class FloorRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder whose rows also carry the chain's irreducible part."""

    use_link_command = False

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements[-1] = statements[-1].replace(
            "state BLOB, ",
            "state BLOB, entry_hash BLOB, timestamp INTEGER, key_id BLOB, signature BLOB, "
            "command_size INTEGER, ",
        )
        return statements

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        signer: Ed25519Signer = kwargs["signer"]
        digests = digest_events(stored_events)
        cursor = c.sqlite_cursor
        cursor.execute(
            f"SELECT rowid, entry_hash FROM {self.events_table_name} ORDER BY rowid DESC LIMIT 1"
        )
        found = cursor.fetchone()
        head_sequence, head_hash = (0, GENESIS_HASH) if found is None else found
        timestamp = now_micros()
        if self.use_link_command:  # the ledger's own loop, entry objects and all; it signs
            entries = link_command(
                PendingCommand(tuple(digests), signer),
                head_sequence=head_sequence,
                head_hash=head_hash,
                timestamp=timestamp,
            )
            signature, hashes = entries[0].signature, [e.entry_hash for e in entries]
        else:
            signature = signer.sign(
                command_message(
                    digests, sequence=head_sequence + 1, prev_hash=head_hash, timestamp=timestamp
                )
            )
            hashes = entry_hashes(
                digests,
                head_sequence=head_sequence,
                head_hash=head_hash,
                timestamp=timestamp,
                key_id=signer.key_id,
                signature=signature,
            )
        first, *rest = stored_events
        insert_rows(
            cursor,
            self.events_table_name,
            (*_FIRST, *_COMMAND),
            [(*_row(first, hashes[0]), timestamp, signer.key_id, signature, len(hashes))],
        )
        if rest:
            insert_rows(
                cursor,
                self.events_table_name,
                _FIRST,
                [_row(s, h) for s, h in zip(rest, hashes[1:], strict=True)],
            )
        return list(range(head_sequence + 1, head_sequence + 1 + len(hashes)))


class LinkedFloorRecorder(FloorRecorder):
    """The ``linked`` side: the same rows, hashed by the ledger's own ``link_command``."""

    use_link_command = True


def _row(s: StoredEvent, entry_hash: bytes) -> tuple[Any, ...]:
    """An event's row as the library stores it (the id as text), with its entry hash."""
    return (originator_id_text(s.originator_id), s.originator_version, s.topic, s.state, entry_hash)


def floor_application(path: Path, recorder: type[FloorRecorder]) -> PlainApplication:
    """A plain application on a new SQLite file at ``path`` whose recorder is ``recorder``."""
    env = {
        **_plain_env(f"sqlite:///{path}"),
        "CREATE_TABLE": "y",
        "APPLICATION_RECORDER_TOPIC": f"{__name__}:{recorder.__name__}",
    }
    return PlainApplication(env=env)


def _cpu_rate(save: Callable[[Any], Any], commands: int) -> float:
    """Events per CPU second of this process, aggregates built inside the timing as in
    bench/ledger_writes.py."""
    for _ in range(max(2, commands // 20)):
        save(_aggregate(EVENTS))
    started = time.process_time()
    for _ in range(commands):
        save(_aggregate(EVENTS))
    return commands * EVENTS / (time.process_time() - started)


def run(rounds: int, commands: int, tmp: Path) -> dict[str, Any]:
    ledger = open_ledger(f"sqlite:///{tmp / 'ledger.sqlite3'}", migrate=True)
    signer = registered_signer(ledger, "bench")
    sides: dict[str, Callable[[Any], Any]] = {
        "plain": PlainApplication(
            env={**_plain_env(f"sqlite:///{tmp / 'plain.sqlite3'}"), "CREATE_TABLE": "y"}
        ).save,
        "bare": partial(floor_application(tmp / "bare.sqlite3", FloorRecorder).save, signer=signer),
        "linked": partial(
            floor_application(tmp / "linked.sqlite3", LinkedFloorRecorder).save, signer=signer
        ),
        "ledger": partial(ledger.save, signer=signer),
    }
    rates: dict[str, list[float]] = {name: [] for name in sides}
    load = [os.getloadavg()]
    for i in range(rounds):  # alternate the order, so a machine's swings hit every side
        order = list(sides.items()) if i % 2 == 0 else list(reversed(sides.items()))
        for name, save in order:
            rates[name].append(_cpu_rate(save, commands))
        load.append(os.getloadavg())
    plain = rates["plain"]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "events_per_command": EVENTS,
        "commands_per_round": commands,
        "rounds": rounds,
        "sides": {
            name: {
                "events_per_cpu_s": round(statistics.median(r)),
                "spread": [round(min(r)), round(max(r))],
                "ratio_to_plain": round(statistics.median(r) / statistics.median(plain), 3),
                "ratios_per_round": [round(x / p, 3) for x, p in zip(r, plain, strict=True)],
            }
            for name, r in rates.items()
        },
        "load_average_1_5_15": [[round(x, 2) for x in row] for row in load],
    }


def verify_floor(path: Path, public_key: bytes) -> int:
    """Check a floor's file as a verifier would, from its rows alone: every entry hash
    recomputed (sequence = rowid, prev = the row before's hash, state hash = SHA-256 of the
    state, the rest from the command's first row) and every command's signature. Returns the
    number of entries; raises ``ValueError`` at the first row that does not hold."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT rowid, originator_id, originator_version, topic, state, entry_hash, "
            "timestamp, key_id, signature, command_size FROM stored_events ORDER BY rowid"
        ).fetchall()
    prev, at = GENESIS_HASH, 0
    while at < len(rows):
        first = rows[at]
        if first[8] is None:
            raise ValueError(f"row {first[0]}: a command's first row has no signature")
        timestamp, key_id, signature, size = first[6:10]
        command = rows[at : at + size]
        digests = [EventDigest(UUID(r[1]), r[2], r[3], sha256(r[4]).digest()) for r in command]
        message = command_message(digests, sequence=first[0], prev_hash=prev, timestamp=timestamp)
        if bytes(key_id) != key_id_of(public_key) or not verify_signature(
            public_key, message, signature
        ):
            raise ValueError(f"row {first[0]}: the command's signature does not verify")
        hashes = entry_hashes(
            digests,
            head_sequence=first[0] - 1,
            head_hash=prev,
            timestamp=timestamp,
            key_id=bytes(key_id),
            signature=bytes(signature),
        )
        for (rowid, *_, stored, _t, _k, _s, _n), computed in zip(command, hashes, strict=True):
            if stored != computed:
                raise ValueError(f"row {rowid}: the entry hash does not match the row")
        prev, at = hashes[-1], at + size
    for (a, *_), (b, *_) in pairwise(rows):
        if b != a + 1:
            raise ValueError(f"row {b}: the sequence is not dense after {a}")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--commands", type=int, default=150)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = run(args.rounds, args.commands, Path(tmp))
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    print("\n| side | events/CPU-s | spread | ratio to plain |\n|---|---:|---:|---:|")
    for name, side in report["sides"].items():
        low, high = side["spread"]
        print(
            f"| {name} | {side['events_per_cpu_s']:,} | {low:,}–{high:,} | "
            f"{side['ratio_to_plain']} |"
        )


if __name__ == "__main__":
    main()
