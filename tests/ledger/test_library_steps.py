"""Where the ledger application follows eventsourcing's own steps instead of calling them
(``LedgerApplication.save``, its repository's projector), it must stay the same as the pinned
library: these fail when an upgrade changes the steps mirrored, so the copy is looked at again."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import re
from typing import Any

from eventsourcing.application import Application, ProcessingEvent, project_aggregate

from ledger.domain.serials import DailyCounter
from ledger.services.application import _Collected, _project


def _calls(function: object) -> list[str]:
    body = inspect.getsource(function)  # type: ignore[arg-type]
    return re.findall(r"(?:self|processing_event)\.(\w+)\(", body)


def test_save_still_collects_records_snapshots_and_notifies_in_that_order() -> None:
    assert _calls(Application.save) == [
        "collect_events",
        "_record",
        "_take_snapshots",
        "_notify",
        "notify",
    ]


def test_the_library_projector_only_mutates_each_event_in_turn() -> None:
    """A docstring, then ``for`` each event: an assert and ``aggregate = event.mutate(…)``;
    then ``return aggregate`` — nothing :func:`_project` leaves out but the assert."""
    tree = ast.parse(inspect.getsource(project_aggregate)).body[0]
    assert isinstance(tree, ast.FunctionDef)
    shape = [type(s).__name__ for s in tree.body]
    assert shape == ["Expr", "For", "Return"]
    loop = tree.body[1]
    assert isinstance(loop, ast.For)
    assert [type(s).__name__ for s in loop.body] == ["Assert", "Assign"]
    assert ast.unparse(loop.body[1]) == "aggregate = domain_event.mutate(aggregate)"


def _counters() -> tuple[DailyCounter, DailyCounter]:
    one = DailyCounter.open("GZ-SJ", dt.date(2026, 12, 7))
    two = DailyCounter.open("GZ-GA", dt.date(2026, 12, 7))
    two.allocate()
    return one, two


def test_collected_events_are_the_librarys_for_aggregates_events_and_none() -> None:
    mine, theirs = _Collected(), ProcessingEvent[Any]()
    one, two = _counters()
    mine.collect_events(one, None, two, signer="key")
    theirs.collect_events(*_counters()[:1], None, _counters()[1], signer="key")
    assert [type(e).__name__ for e in mine.events] == [type(e).__name__ for e in theirs.events]
    assert [e.originator_id for e in mine.events] == [e.originator_id for e in theirs.events]
    assert [e.originator_id for e in mine.events] == [one.id, two.id, two.id]
    assert mine.aggregates == {one.id: one, two.id: two}
    assert list(theirs.aggregates) == list(mine.aggregates)
    assert mine.saved_kwargs == theirs.saved_kwargs == {"signer": "key"}
    event = mine.events[0]
    loose = _Collected()
    loose.collect_events(event)  # a domain event itself goes the library's way
    assert loose.events == [event]
    assert loose.aggregates == {}


def test_the_projector_rebuilds_what_the_librarys_does() -> None:
    counter = DailyCounter.open("GZ-SJ", dt.date(2026, 12, 7))
    counter.reserve(3)
    events = counter.collect_events()
    ours: Any = _project(None, events)
    theirs: Any = project_aggregate(None, events)
    assert (
        (ours.count, ours.version, ours.id)
        == (theirs.count, theirs.version, theirs.id)
        == (
            3,
            2,
            counter.id,
        )
    )
