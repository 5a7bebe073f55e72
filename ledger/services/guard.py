"""Fail closed on rollback: every writer compares the log with the newest head it knows of.

Layer: ledger services. DESIGN invariant 3: a tail cut back to an earlier signed head, or a
log replaced by another history, cannot be seen from inside the database, so writers keep
their own reference — the head state file beside the keystore
(:mod:`ledger.storage.head_state`) — and refuse to write on a log that is shorter than, or
diverges from, it (the way a Certificate Transparency or Go checksum database client refuses
a signed tree head older than, or inconsistent with, the newest it has seen).

:meth:`RollbackGuard.tick` (at start, every ``interval`` seconds in ``serve``, after each CLI
writer and at clean shutdown), in order:

1. read the state file (unreadable or malformed: fault ``head-state-unreadable``);
2. compare the log with the known head (:func:`compare_with_known`): an empty log, another
   genesis, a head below the known sequence or another entry hash at it is a fault;
3. add the alarms other checkers left in the file (the anchoring worker's
   ``anchor-node-rolled-back``, …);
4. with no local fault, advance the file's head to the log's head (never back).

The faults found are cached: :meth:`RollbackGuard.require_writable` (the ledger's write gate,
called before every save) raises :class:`~ledger.errors.LedgerRolledBack` while any is
present, without I/O. A fault clears only when the comparison passes again (the newer data
came back, or the operator ran ``caseledger rollback accept``, which resets the file).

Serial numbers (RULES.md "Case lifecycle" 3; GZ16·11, PY·11): :meth:`reserve_serials`
raises a day's counter to at least the floor recorded in the file and records the new
highest number there *before* the reserving command is saved, so a restored older copy
never hands out a number that the lost history gave — even in the moments before a tick
notices the rollback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger.errors import LedgerRolledBack
from ledger.storage.head_state import (
    HeadAlarm,
    HeadState,
    HeadStateError,
    HeadStateFile,
    KnownHead,
    serial_key,
)

__all__ = [
    "DEFAULT_TICK_SECONDS",
    "HEAD_DIVERGED",
    "HEAD_UNREADABLE",
    "LOCAL_SOURCE",
    "ROLLED_BACK",
    "Fault",
    "RollbackGuard",
    "compare_with_known",
    "describe",
]

log = logging.getLogger("caseledger.guard")

DEFAULT_TICK_SECONDS: Final = 0.5
"""How often ``serve`` compares the log with the state file and advances it (≤ 1 s)."""
ROLLED_BACK: Final = "ledger-rolled-back"
HEAD_DIVERGED: Final = "ledger-diverged"
HEAD_UNREADABLE: Final = "head-state-unreadable"
LOCAL_SOURCE: Final = "head-state"


@dataclass(frozen=True)
class Fault:
    """Why writes are refused: a stable ``code``, a ``detail`` naming what was expected and
    what was found, and the checker that found it (``head-state`` or an alarm's source)."""

    code: str
    detail: str
    source: str = LOCAL_SOURCE

    def as_json_value(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail, "source": self.source}


def compare_with_known(
    known: KnownHead | None,
    genesis: Any | None,
    head: Any | None,
    at_known: Any | None,
) -> Fault | None:
    """Compare the log (its genesis entry, head entry, and entry at the known sequence) with
    the known head. Returns the fault, or None when the log holds the known head."""
    if known is None:
        return None  # nothing known yet: trust on first use
    if genesis is None or head is None:
        return Fault(
            ROLLED_BACK,
            f"the log is empty but this installation saw it up to sequence {known.sequence} "
            f"(entry {known.entry_hash.hex()[:16]}…): the database was wiped or replaced",
        )
    if genesis.entry_hash != known.log:
        return Fault(
            HEAD_DIVERGED,
            f"the database holds another ledger (genesis {genesis.entry_hash.hex()[:16]}…) than "
            f"the one this installation wrote (genesis {known.log.hex()[:16]}…)",
        )
    if head.sequence < known.sequence:
        return Fault(
            ROLLED_BACK,
            f"the log ends at sequence {head.sequence} but this installation saw sequence "
            f"{known.sequence} (entry {known.entry_hash.hex()[:16]}…): entries "
            f"{head.sequence + 1}–{known.sequence} are missing (restored from an older copy?)",
        )
    if at_known is None or at_known.entry_hash != known.entry_hash:
        found = "nothing" if at_known is None else f"{at_known.entry_hash.hex()[:16]}…"
        return Fault(
            HEAD_DIVERGED,
            f"entry {known.sequence} is {found} but this installation saw "
            f"{known.entry_hash.hex()[:16]}… there: the log was rewritten or replaced",
        )
    return None


class RollbackGuard:
    """The write gate of one process over one ledger (see the module docstring)."""

    def __init__(self, chain: Any, state: HeadStateFile) -> None:
        self.chain = chain
        self.state = state
        self._faults: tuple[Fault, ...] = ()
        self._floors: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()

    # -- status --------------------------------------------------------------------------------

    @property
    def faults(self) -> tuple[Fault, ...]:
        return self._faults

    def require_writable(self) -> None:
        """Raise :class:`LedgerRolledBack` (the first fault) while any fault is present."""
        faults = self._faults
        if faults:
            raise LedgerRolledBack(faults[0].code, faults[0].detail)

    def _observed(self, state: HeadState) -> tuple[KnownHead | None, Fault | None]:
        """The log's head as a :class:`KnownHead` and its comparison with the file's head."""
        genesis_rows = self.chain.select_entries(1, 1)
        genesis = genesis_rows[0] if genesis_rows else None
        head = self.chain.chain_head()
        known = state.head
        at_known = None
        if known is not None and head is not None and head.sequence >= known.sequence:
            rows = self.chain.select_entries(known.sequence, 1)
            at_known = rows[0] if rows else None
        fault = compare_with_known(known, genesis, head, at_known)
        seen = (
            None
            if genesis is None or head is None
            else KnownHead(genesis.entry_hash, head.sequence, head.entry_hash)
        )
        return seen, fault

    def check(self) -> tuple[Fault, ...]:
        """Compare without writing (steps 1-3); the faults found are cached and returned."""
        return self._run(advance=False)

    def tick(self) -> tuple[Fault, ...]:
        """Compare and, with no local fault, advance the file's head (steps 1-4)."""
        return self._run(advance=True)

    def _run(self, *, advance: bool) -> tuple[Fault, ...]:
        if not advance and not self.state.directory.exists():
            lock: Any = contextlib.nullcontext()  # a reader with no keystore here: nothing known
        else:
            lock = self.state.locked()
        with self._tick_lock, lock:
            faults: list[Fault] = []
            try:
                state = self.state.read()
                seen, local = self._observed(state)
            except HeadStateError as exc:
                faults.append(Fault(HEAD_UNREADABLE, str(exc)))
            else:
                if local is not None:
                    faults.append(local)
                elif advance and seen is not None and _newer(seen, state.head):
                    if state.head is None:
                        log.warning(
                            "no head recorded in %s yet: the log is trusted as it is "
                            "(sequence %d) from now on",
                            self.state.path,
                            seen.sequence,
                        )
                    self.state.write_locked(state.with_head(seen))
                faults.extend(
                    Fault(a.code, a.detail, source) for source, a in sorted(state.alarms.items())
                )
        self._set(tuple(faults))
        return self._faults

    def _set(self, faults: tuple[Fault, ...]) -> None:
        before = {(f.code, f.source) for f in self._faults}
        for fault in faults:
            if (fault.code, fault.source) not in before:
                # no personal data: sequences, hashes and sizes only
                log.error("ALARM ledger is read-only: %s: %s", fault.code, fault.detail)
        if self._faults and not faults:
            log.warning("ledger writable again: the log holds the newest known head")
        self._faults = faults

    # -- alarms of other checkers -----------------------------------------------------------------

    def raise_alarm(self, source: str, code: str, detail: str) -> None:
        """Record a checker's finding in the file (every process of the installation refuses
        writes until it is cleared) and refresh the cached faults."""
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

        def change(state: HeadState) -> HeadState:
            held = state.alarms.get(source)
            if held is not None and (held.code, held.detail) == (code, detail):
                return state
            return state.with_alarm(source, HeadAlarm(code, detail, since))

        self._update_alarms(change)

    def clear_alarm(self, source: str) -> None:
        """Clear a checker's finding (it checked again and found nothing wrong)."""
        self._update_alarms(lambda state: state.with_alarm(source, None))

    def _update_alarms(self, change: Callable[[HeadState], HeadState]) -> None:
        try:
            self.state.update(change)
        except HeadStateError as exc:
            self._set((Fault(HEAD_UNREADABLE, str(exc)),))
            return
        self.check()

    # -- serial floors -----------------------------------------------------------------------------

    def reserve_serials(
        self, department: str, on: dt.date, reserve: Callable[[int], range]
    ) -> range:
        """Reserve numbers of ``department``'s day ``on`` above the recorded floor:
        ``reserve(floor)`` takes them (in memory), and their highest is written to the file
        before this returns (before the reserving command is saved). Raises
        :class:`LedgerRolledBack` when the file cannot be read or written."""
        key = serial_key(department, on)
        try:
            with self.state.locked():
                state = self.state.read()
                floor = max(state.serial_floor(department, on), self._floors.get(key, 0))
                taken = reserve(floor)
                if taken:
                    self.state.write_locked(state.with_serial(department, on, taken[-1], on))
        except HeadStateError as exc:
            raise LedgerRolledBack(HEAD_UNREADABLE, str(exc)) from exc
        except OSError as exc:
            raise LedgerRolledBack(HEAD_UNREADABLE, f"{self.state.path}: {exc}") from exc
        if taken:
            self._floors[key] = max(self._floors.get(key, 0), taken[-1])
        return taken

    # -- the ticker --------------------------------------------------------------------------------

    def start(self, interval: float = DEFAULT_TICK_SECONDS) -> None:
        """Tick every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run_ticks, args=(interval,), name="rollback-guard", daemon=True
        )
        self._thread.start()

    def _run_ticks(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception as exc:  # the database is down: keep the last finding, retry
                log.warning("rollback guard: cannot compare the log now (%s)", type(exc).__name__)

    def stop(self) -> None:
        """Stop ticking; one last tick records the head a clean shutdown leaves."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        try:
            self.tick()
        except Exception as exc:
            log.warning("rollback guard: last tick failed (%s)", type(exc).__name__)


def _newer(seen: KnownHead, known: KnownHead | None) -> bool:
    return known is None or seen.sequence > known.sequence


def describe(faults: Sequence[Fault], *, first_code: bool = True) -> str:
    """One line naming every fault (for CLI refusals and logs); ``first_code=False`` leaves
    the first fault's code out (a ``LedgerRolledBack`` carries it already)."""
    return "; ".join(
        f.detail if i == 0 and not first_code else f"{f.code}: {f.detail}"
        for i, f in enumerate(faults)
    )
