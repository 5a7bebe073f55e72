"""The ledger application: one eventsourcing Application over the chained recorder.

Layer: ledger services. Every command takes the ``signer`` of the
actor that causes it and passes it down to the recorder, which signs the
command's events before the write lock (DESIGN invariant 2). Nothing is built
at import time; :func:`open_ledger` is the composition root for storage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import Transcoder
from eventsourcing.utils import strtobool

from ledger.chain.recorders.base import ChainStore, StaleReference
from ledger.domain.keys import ActorKey, KeyRole
from ledger.domain.signer import Signer
from ledger.encoding import MsgpackTranscoder
from ledger.errors import ConfigurationError, LedgerError
from ledger.storage import pg_pool
from ledger.storage.faults import probe
from ledger.storage.sqlite_statements import cache_statements
from ledger.storage.urls import StorageURL, ensure_parent, parse_storage_url

ABSENT_CACHE = 100_000
"""Most absences :meth:`LedgerApplication.reference` remembers (then it forgets them all)."""


class KeyNotUsable(LedgerError):
    """The signer's key is unknown to the ledger, revoked, or lacks the role."""


class _Collected(ProcessingEvent[UUID]):
    """The library's collection of a save's events, an aggregate told by its class first.

    ``ProcessingEvent.collect_events`` asks of each object ``isinstance(obj,
    DomainEventProtocol)`` and then ``CollectEventsProtocol``: runtime protocol checks that
    walk the protocol's members on every call (~16 µs an aggregate on Python 3.11, four
    aggregates a submission). Every aggregate of the ledger is a ``BaseAggregate``, which
    one nominal check finds; anything else goes the library's way."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif obj is not None:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """``eventsourcing.application.project_aggregate`` without its ``assert isinstance(event,
    CanMutateProtocol)`` per event: a runtime protocol check (~16 µs on Python 3.11) on
    every event an aggregate is rebuilt or brought up to date from."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class _Repository(Repository[UUID]):
    """The library's repository, projecting with :func:`_project` unless told otherwise."""

    def get(self, aggregate_id: UUID, *, projector_func: Any = None, **kwargs: Any) -> Any:
        return super().get(aggregate_id, projector_func=projector_func or _project, **kwargs)


class LedgerApplication(Application[UUID]):
    """The case ledger's write side on a chained event store."""

    name = "caseledger"
    is_snapshotting_enabled = False
    #: Called before every save; raises to refuse the write (the composition root installs
    #: the rollback guard's ``require_writable``: ``ledger.services.guard``).
    write_gate: Callable[[], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading = threading.local()
        self._absent: set[UUID] = set()
        """Aggregates a reference found absent (e.g. no blacklisting): checked at the write."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save as eventsourcing's ``Application.save`` does (its steps, in its order), after
        the write gate allowed it (raises what it raises, e.g. ``LedgerRolledBack``, and
        records nothing); the events collected by :class:`_Collected`."""
        gate = self.write_gate
        if gate is not None:
            gate()
        collected = _Collected()
        collected.collect_events(*objs, **kwargs)
        recordings = self._record(collected)
        self._take_snapshots(collected)
        self._notify(recordings)
        self.notify(collected.events)  # the library's deprecated hook, called as it does
        return recordings

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, built from the same settings, as a :class:`_Repository`."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return _Repository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(
                self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")
            ),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    def construct_transcoder(self) -> Transcoder:
        return MsgpackTranscoder()

    @property
    def chain(self) -> ChainStore:
        return cast(ChainStore, self.recorder)

    def migrate(self) -> None:
        """Create the event, chain and tracking tables (once, not by every worker)."""
        self.recorder.create_table()  # type: ignore[attr-defined]

    # -- keys -------------------------------------------------------------------------------

    def actor_key(self, key_id: bytes) -> ActorKey | None:
        try:
            return cast(ActorKey, self.repository.get(ActorKey.create_id(key_id)))
        except AggregateNotFoundError:
            return None

    def reference(self, aggregate_id: UUID) -> Any:
        """An aggregate only read, never changed or saved (a key, a department, an item).

        Every command reads the same few of these; the repository brings its cached copy
        up to date under a per-aggregate lock, so concurrent commands queued behind each
        other's round trip. Here a reader that finds another thread doing that update
        takes the cached copy instead: no older than what that thread is fetching. The
        cached copy itself is returned, not a deep copy (a sixth of a submission's CPU):
        the caller must not change it. Raises ``AggregateNotFoundError``.

        Inside :meth:`optimistic_reads` the cached copy (or the cached absence) is taken as
        it is, without a round trip, and its version is checked when the command is
        written instead."""
        reads: dict[UUID, int] | None = getattr(self._reading, "reads", None)
        if reads is None:
            return self.repository.get(
                aggregate_id, fastforward_skipping=True, deepcopy_from_cache=False
            )
        cache = self.repository.cache
        if aggregate_id in self._absent:
            reads[aggregate_id] = 0
            raise AggregateNotFoundError(aggregate_id)
        try:
            found = cache.get(aggregate_id) if cache is not None else None
        except KeyError:
            found = None
        if found is None:
            try:
                found = self.repository.get(aggregate_id, deepcopy_from_cache=False)
            except AggregateNotFoundError:
                if len(self._absent) > ABSENT_CACHE:
                    self._absent.clear()
                self._absent.add(aggregate_id)
                reads[aggregate_id] = 0
                raise
        reads[aggregate_id] = found.version
        return found

    @contextmanager
    def optimistic_reads(self) -> Iterator[None]:
        """Within: :meth:`reference` reads no database, and :meth:`save_signed` has the
        recorder check, under its write lock and in the command's own round trip, that
        nothing read has changed since; if something has, the save raises
        :class:`~ledger.chain.recorders.base.StaleReference` (an ``IntegrityError``, so
        callers retry as after a version conflict) and the stale copies are dropped, so the
        retry reads them afresh. Read-only look-ups cost no round trip and are checked more
        strictly than before (at the write, under the lock, instead of before it).

        A no-op on a recorder that cannot check reads (SQLite). Nested scopes share one."""
        if not getattr(self.recorder, "checks_reads", False) or self.repository.cache is None:
            yield
            return
        if getattr(self._reading, "reads", None) is not None:
            yield
            return
        self._reading.reads = {}
        try:
            yield
        finally:
            self._reading.reads = None

    def check_signer(self, signer: Signer, *roles: KeyRole) -> ActorKey:
        """The signer's registered key; raises KeyNotUsable if unknown, revoked or off-role."""
        try:
            key: ActorKey | None = self.reference(ActorKey.create_id(signer.key_id))
        except AggregateNotFoundError:
            key = None
        if key is None:
            raise KeyNotUsable(f"key {signer.key_id.hex()} is not registered in the ledger")
        if key.revoked:
            raise KeyNotUsable(f"key {signer.key_id.hex()} was revoked: {key.revocation_reason}")
        if roles and key.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise KeyNotUsable(f"key {signer.key_id.hex()} has role {key.role}, needs {allowed}")
        return key

    def is_bootstrapped(self) -> bool:
        return self.chain.chain_head() is not None

    def bootstrap(self, platform: Signer, actor: str = "platform") -> ActorKey:
        """Register the platform key, self-signed: the genesis command of the chain."""
        if self.is_bootstrapped():
            raise LedgerError("the ledger already has a genesis command")
        key = ActorKey(
            key_id=platform.key_id,
            public_key=platform.public_key,
            actor=actor,
            role=KeyRole.PLATFORM.value,
            department="",
        )
        self.save(key, signer=platform)
        return key

    def register_key(
        self,
        public_key: bytes,
        key_id: bytes,
        *,
        actor: str,
        role: KeyRole,
        department: str = "",
        by: Signer,
    ) -> ActorKey:
        """Register an actor's public key; signed by a platform key."""
        self.check_signer(by, KeyRole.PLATFORM)
        if self.actor_key(key_id) is not None:
            raise LedgerError(f"key {key_id.hex()} is already registered")
        key = ActorKey(
            key_id=key_id,
            public_key=public_key,
            actor=actor,
            role=role.value,
            department=department,
        )
        self.save(key, signer=by)
        return key

    def revoke_key(self, key_id: bytes, reason: str, *, by: Signer) -> None:
        """Revoke a key from this point of the chain on; signed by a platform key."""
        self.check_signer(by, KeyRole.PLATFORM)
        key = self.actor_key(key_id)
        if key is None:
            raise LedgerError(f"key {key_id.hex()} is not registered")
        key.revoke(reason)
        self.save(key, signer=by)

    def rotate_key(self, old_key_id: bytes, new: Signer, *, reason: str, by: Signer) -> ActorKey:
        """Register ``new`` with the old key's actor and role and revoke the old, as one command."""
        self.check_signer(by, KeyRole.PLATFORM)
        old = self.actor_key(old_key_id)
        if old is None or old.revoked:
            raise LedgerError(f"key {old_key_id.hex()} is not a current key")
        fresh = ActorKey(
            key_id=new.key_id,
            public_key=new.public_key,
            actor=old.actor,
            role=old.role,
            department=old.department,
        )
        old.revoke(reason)
        self.save(fresh, old, signer=by)
        return fresh

    @property
    def checks_materials(self) -> bool:
        """Whether :meth:`save_signed` can check ``materials`` in the write transaction
        (a PostgreSQL recorder told its material store: ``check_materials_in``)."""
        return bool(getattr(self.recorder, "checks_materials", False))

    def refresh_reads(self) -> bool:
        """Within :meth:`optimistic_reads`, after a command was refused: bring what it read
        up to date (a round trip each) and say whether anything had moved on — then the
        refusal may rest on a stale copy that no write would ever check, and the caller runs
        the command once more. Forgets the scope's reads either way."""
        reads: dict[UUID, int] | None = getattr(self._reading, "reads", None)
        if not reads:
            return False
        moved = False
        for aggregate_id, version in list(reads.items()):
            self._absent.discard(aggregate_id)
            try:
                fresh: Any = self.repository.get(aggregate_id, deepcopy_from_cache=False)
            except AggregateNotFoundError:
                self._absent.add(aggregate_id)
                continue
            moved = moved or fresh.version != version
        reads.clear()
        return moved

    def save_signed(
        self, *aggregates: Any, signer: Signer, materials: Collection[bytes] = ()
    ) -> Sequence[Any]:
        """Save aggregates as one command signed by ``signer`` (a registered, current key);
        within :meth:`optimistic_reads`, with the versions of what the command read.
        ``materials``: SHA-256 of materials the command cites, checked in the write
        transaction (only where :attr:`checks_materials`, else ``ConfigurationError``); one
        not stored raises :class:`~ledger.chain.recorders.base.MaterialsMissing`; either way
        nothing is recorded."""
        self.check_signer(signer)
        cited = {"materials": frozenset(materials)} if materials else {}
        reads: dict[UUID, int] | None = getattr(self._reading, "reads", None)
        if not reads:
            return self.save(*aggregates, signer=signer, **cited)
        saved = {a.id for a in aggregates}
        checked = tuple((i, v) for i, v in reads.items() if i not in saved)
        try:
            return self.save(*aggregates, signer=signer, reads=checked, **cited)
        except StaleReference as exc:
            for stale in exc.stale:
                self._absent.discard(stale)
                with suppress(KeyError):
                    self.repository.cache.get(stale, evict=True)  # type: ignore[union-attr]
                reads.pop(stale, None)
            raise


def open_ledger(url: str | StorageURL | None = None, *, migrate: bool = False) -> LedgerApplication:
    """Open the ledger at ``url`` (or ``$CASELEDGER_DB``, or the default).

    Raises ConfigurationError (a bad URL, no SQLite ledger without ``migrate``) and
    :class:`~ledger.storage.faults.StorageUnavailable` when the database does not answer
    (checked once here, so a command fails at once with the reason)."""
    storage = url if isinstance(url, StorageURL) else parse_storage_url(url)
    if not migrate and storage.is_sqlite and not Path(storage.path).exists():
        raise ConfigurationError(f"--db: no ledger at {storage.path} (run caseledger migrate)")
    ensure_parent(storage)
    probe(storage)
    app = LedgerApplication(env=storage.event_store_env())
    pg_pool.heal(getattr(app.recorder, "datastore", None))
    if storage.is_sqlite:
        cache_statements(app.recorder.datastore)  # type: ignore[attr-defined]
    if migrate:
        app.migrate()
    return app
