"""Event topics are part of the stored format, not of the package layout.

Layer: ledger domain (``eventsourcing`` only). eventsourcing names an event class by its topic,
``module:QualifiedName``, and stores that string with every event; the chain hashes it. The
topics in the format (docs/FORMAT.md) are ``ledger.<aggregate module>:<Class>``, as the
modules were first laid out. :func:`keep_topics` gives each aggregate and event class of a
module its explicit ``TOPIC`` under that name, so that moving a module never changes what is
written, and every stored topic still resolves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from eventsourcing.domain import BaseAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, register_topic

__all__ = ["keep_topics"]


def keep_topics(namespace: Mapping[str, Any], stored_module: str) -> None:
    """Name every aggregate and event class defined in a module ``stored_module:<qualname>``.

    Call it at the end of the module with ``globals()``. Raises ``RuntimeError`` if a class
    already resolved to another topic (it was used before its module finished loading).
    """
    module = namespace["__name__"]
    for cls in _classes(namespace.values(), module):
        topic = f"{stored_module}:{cls.__qualname__}"
        type.__setattr__(cls, "TOPIC", topic)
        register_topic(topic, cls)
        if get_topic(cls) != topic:
            raise RuntimeError(f"{cls.__qualname__}: topic resolved before keep_topics ran")


def _classes(values: Any, module: str) -> Iterator[type]:
    for value in list(values):
        if not isinstance(value, type) or value.__module__ != module:
            continue
        if issubclass(value, BaseAggregate | CanMutateAggregate):
            yield value
            yield from _classes(vars(value).values(), module)
