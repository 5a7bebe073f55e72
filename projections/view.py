"""The base of every read model: route each event to a handler that writes rows.

Layer: projections. Built on eventsourcing's ``Projection``: ``process_event``
runs the handler and records the tracking position in the same transaction
(DESIGN invariant 4), so a view is a pure function of the log and a repeated
delivery is refused. Handlers receive domain events decoded by the ledger's
mapper and must not read clocks: any time they need comes from the event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from ledger.services.application import LedgerApplication
from ledger.storage.urls import StorageURL
from projections.store import (
    ChainLink,
    Table,
    Tx,
    ViewRecorder,
    is_replay,
    open_view_recorder,
)

Handler = Callable[[Any, Tx, Any], None]


class View(Projection[Any]):
    """A read model. Subclasses set ``name``, ``tables`` and register handlers with :func:`on`."""

    tables: ClassVar[tuple[Table, ...]] = ()
    handlers: ClassVar[dict[str, Handler]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = {
            topic: fn
            for klass in reversed(cls.__mro__)
            for fn in vars(klass).values()
            for topic in getattr(fn, "_view_topics", ())
        }
        cls.topics = tuple(sorted(cls.handlers))

    @property
    def store(self) -> ViewRecorder:
        return self.view

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        handler = self.handlers.get(get_topic(type(domain_event)))
        try:
            with self.store.transaction() as tx:
                self.store.check(tx, tracking.application_name)
                if handler is not None:
                    handler(self, tx, domain_event)
                self.store.track(tx, tracking, checked=True)
        except Exception as exc:
            if not is_replay(exc):
                raise  # a replayed position is refused as a whole: exactly once

    def process_batch(
        self, items: Sequence[tuple[Any, Tracking]], link: ChainLink | None = None
    ) -> None:
        """Apply consecutive events in one transaction, tracking (and sealing, with ``link``:
        the chain entry of the last event) the last.

        Precondition: the first event follows the view's position (``catch_up``
        reads from there), so no event of the batch was applied before. Raises
        :class:`~projections.store.ViewTampered` when the view's tracking was changed
        outside it (nothing of the batch is written).
        """
        if items:
            self.apply_batch([event for event, _ in items], items[-1][1], link)

    def apply_batch(
        self,
        events: Sequence[Any],
        tracking: Tracking,
        link: ChainLink | None = None,
        *,
        topics: Sequence[str] | None = None,
    ) -> None:
        """:meth:`process_batch` for ``events`` whose last is at ``tracking`` (what a
        catch-up or a rebuild hands over: no tracking object per event); ``topics``: the
        events' topics, when the caller has them (the log's notifications do)."""
        handlers = self.handlers
        if topics is None:
            topics = [get_topic(type(e)) for e in events]
        with self.store.transaction() as tx:
            self.store.check(tx, tracking.application_name)
            for topic, domain_event in zip(topics, events, strict=True):
                handler = handlers.get(topic)
                if handler is not None:
                    handler(self, tx, domain_event)
            self.store.track(tx, tracking, link, checked=True)


def on(*topics: str) -> Callable[[Handler], Handler]:
    """Register the decorated method as the handler of events with these topics."""

    def mark(fn: Handler) -> Handler:
        fn._view_topics = topics  # type: ignore[attr-defined]
        return fn

    return mark


def open_view(view_cls: type[View], storage: StorageURL, *, suffix: str = "") -> View:
    """The view of class ``view_cls`` beside the ledger at ``storage`` (``suffix``: a
    separate store, for a rebuild), its tables created."""
    recorder = open_view_recorder(storage, view_cls.name, view_cls.tables, suffix=suffix)
    recorder.create_table()
    return view_cls(view=recorder)


def open_replica_view(view_cls: type[View], storage: StorageURL) -> View:
    """``view_cls`` read on a hot standby of its database (only read, never caught up): its
    rows and tracking replicate from the primary with the log, and a standby refuses the
    writes that opening a view for the follower makes."""
    return view_cls(view=open_view_recorder(storage, view_cls.name, view_cls.tables))


def position(view: View, app: LedgerApplication) -> int:
    """The last notification of ``app``'s log that ``view`` has applied (0: none)."""
    return view.store.max_tracking_id(app.name) or 0
