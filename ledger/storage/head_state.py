"""The installation's memory of its ledger: the newest head it wrote or saw, serial floors, alarms.

Layer: ledger storage (filesystem). One small JSON file, ``ledger-head.json``, beside the
keystore (docs/FORMAT.md §4.1), in the spirit of a Certificate Transparency or Go checksum
database client that keeps the newest signed tree head it has seen and refuses to go back:

- ``log``: the ledger's identity, the hex entry hash of its genesis entry (one keystore holds
  one ledger's platform key, so one file describes one log);
- ``sequence`` and ``entry_hash``: the newest chain head this installation's writers wrote or
  saw; a log that does not hold that entry was rolled back or rewritten;
- ``serials``: per ``<department>/<YYYY-MM-DD>`` the highest serial counter ever reserved,
  written *before* the reserving command is saved, so that a restored older copy of the
  database never hands out a number the lost history gave (RULES.md "Case lifecycle" 3:
  the serial number is the unique id of an application, GZ16·11, PY·11);
- ``alarms``: findings of checkers other than the local comparison (the anchoring worker's
  rolled-back node), so every process of one ``serve`` refuses writes together.

Writers update it under an exclusive ``flock`` of ``ledger-head.lock`` (processes of one
``serve --workers N`` and CLI commands share it) with write-temp + fsync + rename + fsync of
the directory, so a reader always sees a whole file and an update survives a crash once
:meth:`HeadStateFile.update` returns. The head never moves back except through
:meth:`HeadStateFile.reset` (the operator's ``caseledger rollback accept``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ledger.errors import LedgerError

__all__ = [
    "HEAD_FILE",
    "HEAD_FORMAT",
    "KEEP_SERIAL_DAYS",
    "HeadAlarm",
    "HeadState",
    "HeadStateError",
    "HeadStateFile",
    "KnownHead",
    "serial_key",
]

HEAD_FILE: Final = "ledger-head.json"
LOCK_FILE: Final = "ledger-head.lock"
HEAD_FORMAT: Final = "caseledger-ledger-head/v1"
MAX_FILE_BYTES: Final = 1 << 20
KEEP_SERIAL_DAYS: Final = 3
"""Serial floors kept for the business days from ``today - 2`` on: a submission only numbers
today's business date (Asia/Shanghai), so older floors protect nothing."""
_HEX32: Final = re.compile(r"[0-9a-f]{64}")
_SERIAL_KEY: Final = re.compile(r"[0-9A-Z-]{2,32}/[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CODE: Final = re.compile(r"[a-z0-9-]{1,64}")


class HeadStateError(LedgerError):
    """The head state file is unreadable or malformed (the guard fails closed on it)."""


def serial_key(department: str, on: dt.date) -> str:
    """The ``serials`` key of a department's business day."""
    return f"{department}/{on.isoformat()}"


@dataclass(frozen=True)
class KnownHead:
    """A chain head: the log it belongs to (genesis entry hash), its sequence and entry hash."""

    log: bytes
    sequence: int
    entry_hash: bytes

    def __post_init__(self) -> None:
        if len(self.log) != 32 or len(self.entry_hash) != 32 or self.sequence < 1:
            raise HeadStateError("head: 32-byte log and entry hashes and a sequence of at least 1")


@dataclass(frozen=True)
class HeadAlarm:
    """A finding raised by a checker (``source``), e.g. the anchoring worker."""

    code: str
    detail: str
    since: str  # ISO 8601 UTC


@dataclass(frozen=True)
class HeadState:
    """The whole file as a value. ``head`` is None before the first write is seen."""

    head: KnownHead | None = None
    serials: Mapping[str, int] = field(default_factory=dict)
    alarms: Mapping[str, HeadAlarm] = field(default_factory=dict)
    updated: str = ""

    def serial_floor(self, department: str, on: dt.date) -> int:
        return int(self.serials.get(serial_key(department, on), 0))

    def with_head(self, head: KnownHead) -> HeadState:
        return replace(self, head=head)

    def with_serial(self, department: str, on: dt.date, last: int, today: dt.date) -> HeadState:
        """The floor of that day raised to ``last`` (never lowered); days older than
        :data:`KEEP_SERIAL_DAYS` before ``today`` dropped."""
        oldest = (today - dt.timedelta(days=KEEP_SERIAL_DAYS - 1)).isoformat()
        kept = {k: v for k, v in self.serials.items() if k.split("/", 1)[1] >= oldest}
        key = serial_key(department, on)
        kept[key] = max(int(kept.get(key, 0)), last)
        return replace(self, serials=kept)

    def with_alarm(self, source: str, alarm: HeadAlarm | None) -> HeadState:
        alarms = dict(self.alarms)
        if alarm is None:
            alarms.pop(source, None)
        else:
            alarms[source] = alarm
        return replace(self, alarms=alarms)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": HEAD_FORMAT,
            "serials": dict(sorted(self.serials.items())),
            "alarms": {
                s: {"code": a.code, "detail": a.detail, "since": a.since}
                for s, a in sorted(self.alarms.items())
            },
            "updated": self.updated,
        }
        if self.head is not None:
            out.update(
                log=self.head.log.hex(),
                sequence=self.head.sequence,
                entry_hash=self.head.entry_hash.hex(),
            )
        return out


def parse_head_state(data: object) -> HeadState:
    """Validate the file's JSON value. Raises :class:`HeadStateError` naming the field."""
    if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
        raise HeadStateError(f"format: not a {HEAD_FORMAT} file")
    head = None
    if "log" in data:
        log, seq, entry = data.get("log"), data.get("sequence"), data.get("entry_hash")
        if not (isinstance(log, str) and _HEX32.fullmatch(log)):
            raise HeadStateError("log: 64 lower-case hex digits")
        if not (isinstance(entry, str) and _HEX32.fullmatch(entry)):
            raise HeadStateError("entry_hash: 64 lower-case hex digits")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise HeadStateError("sequence: a whole number of at least 1")
        head = KnownHead(bytes.fromhex(log), seq, bytes.fromhex(entry))
    serials = data.get("serials", {})
    if not isinstance(serials, dict) or not all(
        isinstance(k, str)
        and _SERIAL_KEY.fullmatch(k)
        and isinstance(v, int)
        and not isinstance(v, bool)
        and v >= 0
        for k, v in serials.items()
    ):
        raise HeadStateError("serials: {'<department>/<YYYY-MM-DD>': highest reserved number}")
    alarms: dict[str, HeadAlarm] = {}
    raw_alarms = data.get("alarms", {})
    if not isinstance(raw_alarms, dict):
        raise HeadStateError("alarms: an object")
    for source, value in raw_alarms.items():
        if not (
            isinstance(source, str)
            and _CODE.fullmatch(source)
            and isinstance(value, dict)
            and isinstance(value.get("code"), str)
            and _CODE.fullmatch(value["code"])
            and isinstance(value.get("detail"), str)
            and isinstance(value.get("since"), str)
        ):
            raise HeadStateError(f"alarms.{str(source)[:64]}: {{code, detail, since}}")
        alarms[source] = HeadAlarm(value["code"], value["detail"][:2000], value["since"][:40])
    updated = data.get("updated", "")
    return HeadState(head, dict(serials), alarms, updated if isinstance(updated, str) else "")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HeadStateFile:
    """``ledger-head.json`` in ``directory`` (the keystore directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / HEAD_FILE
        self._lock_path = self.directory / LOCK_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> HeadState:
        """The current state (an empty one if no file yet). Raises :class:`HeadStateError`."""
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return HeadState()
        except OSError as exc:
            raise HeadStateError(f"{self.path}: unreadable ({exc.strerror})") from exc
        if len(raw) > MAX_FILE_BYTES:
            raise HeadStateError(f"{self.path}: larger than {MAX_FILE_BYTES} bytes")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise HeadStateError(f"{self.path}: not JSON ({exc})") from exc
        try:
            return parse_head_state(data)
        except HeadStateError as exc:
            raise HeadStateError(f"{self.path}: {exc}") from exc

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock that orders every update of the file (across processes)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def update(self, change: Callable[[HeadState], HeadState]) -> HeadState:
        """Read, apply ``change`` and write back (only if it changed), under the lock."""
        with self.locked():
            current = self.read()
            new = change(current)
            return self.write_locked(new) if new != current else current

    def write_locked(self, state: HeadState) -> HeadState:
        """Write ``state`` (the caller holds :meth:`locked`): temp file, fsync, rename, fsync
        of the directory."""
        stamped = replace(state, updated=_now())
        data = json.dumps(stamped.to_json(), sort_keys=True, indent=1).encode("utf-8")
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return stamped

    def reset(self, head: KnownHead | None) -> HeadState:
        """Replace the head (the operator accepted a restore): keeps serial floors, drops
        alarms. The one way the head moves back."""
        with self.locked():
            try:
                serials = self.read().serials
            except HeadStateError:
                serials = {}  # a damaged file: the operator decided; nothing to keep
            return self.write_locked(HeadState(head, serials, {}))
