"""Every read model the ledger serves, by name.

Layer: projections. One list, so that ``serve``, ``projections status`` and
``projections rebuild`` agree on what exists.
"""

from __future__ import annotations

from projections.archive_index import ArchiveIndexView
from projections.blacklist import BlacklistView
from projections.certificates import CertificatesView
from projections.indicators import IndicatorsView
from projections.keys import KeysView
from projections.kiosk_fleet import KioskFleetView
from projections.progress import ProgressView
from projections.ratings import RatingsView
from projections.results import ResultsView
from projections.supervision import SupervisionView
from projections.view import View
from projections.worklist import WorklistView

VIEWS: tuple[type[View], ...] = (
    KeysView,
    ProgressView,
    WorklistView,
    SupervisionView,
    CertificatesView,
    RatingsView,
    BlacklistView,
    IndicatorsView,
    KioskFleetView,
    ArchiveIndexView,
    ResultsView,
)


def view_class(name: str) -> type[View]:
    """The view called ``name``; raises KeyError naming the known views."""
    for cls in VIEWS:
        if cls.name == name:
            return cls
    known = ", ".join(c.name for c in VIEWS)
    raise KeyError(f"no view {name!r}; known views: {known}")
