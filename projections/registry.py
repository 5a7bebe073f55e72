"""Every read model the ledger serves, by name.

Layer: projections. One list, so that ``serve``, ``projections status`` and
``projections rebuild`` agree on what exists.
"""

from __future__ import annotations

from projections.keys import KeysView
from projections.view import View

VIEWS: tuple[type[View], ...] = (KeysView,)


def view_class(name: str) -> type[View]:
    """The view called ``name``; raises KeyError naming the known views."""
    for cls in VIEWS:
        if cls.name == name:
            return cls
    known = ", ".join(c.name for c in VIEWS)
    raise KeyError(f"no view {name!r}; known views: {known}")
