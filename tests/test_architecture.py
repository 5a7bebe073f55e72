"""The package layout as docs/ARCHITECTURE.md draws it, and the stored topics it must not move.

The diagram is checked against the import graph the code really has (built by grimp, the
library import-linter runs on), and the contracts in pyproject.toml are checked by running
``lint-imports`` itself, so neither the picture nor the layering can drift from the code.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import grimp
from eventsourcing.domain import BaseAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ledger", "projections", "anchors", "api", "kiosk")
LEDGER_LAYERS = ("services", "storage", "chain", "domain")


def _node(module: str) -> str:
    """The diagram node a module belongs to."""
    parts = module.split(".")
    if parts[0] != "ledger":
        return parts[0]
    if len(parts) > 1 and parts[1] in LEDGER_LAYERS:
        return parts[1]
    return "foundation"


def _drawn_edges() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text("utf-8")
    block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    return set(re.findall(r"^\s*(\w+) --> (\w+)\s*$", block, re.M))


def _real_edges() -> set[tuple[str, str]]:
    graph = grimp.build_graph(*PACKAGES)
    edges = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _node(module), _node(imported)
            if a.split(".")[0] == b or a == b:
                continue
            ledger_a = a in (*LEDGER_LAYERS, "foundation")
            ledger_b = b in (*LEDGER_LAYERS, "foundation")
            if ledger_a and ledger_b:
                edges.add((a, b))
            elif not ledger_a:
                edges.add((a, "ledger" if ledger_b else b))
    return edges


def test_the_diagram_draws_exactly_the_arrows_the_code_has() -> None:
    drawn, real = _drawn_edges(), _real_edges()
    assert drawn, "docs/ARCHITECTURE.md has no mermaid arrows"
    assert real - drawn == set(), f"imports the diagram does not draw: {sorted(real - drawn)}"
    assert drawn - real == set(), f"arrows the code does not have: {sorted(drawn - real)}"


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_package_says_what_it_holds_and_may_import() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        found = [name] + [
            info.name for info in pkgutil.walk_packages(package.__path__, name + ".") if info.ispkg
        ]
        for pkg in found:
            doc = importlib.import_module(pkg).__doc__ or ""
            assert len(doc.split()) >= 20, f"{pkg}: no docstring saying what it holds"
            assert "import" in doc or "Layer" in doc, f"{pkg}: docstring says nothing of layering"


def _aggregate_modules() -> list[str]:
    names = []
    for layer in ("ledger.domain", "ledger.services"):
        package = importlib.import_module(layer)
        names += [i.name for i in pkgutil.iter_modules(package.__path__, layer + ".")]
    return names


def test_stored_topics_keep_the_names_of_the_format_wherever_the_module_lives() -> None:
    checked = 0
    for name in _aggregate_modules():
        module = importlib.import_module(name)
        stored = "ledger." + name.rsplit(".", 1)[1]
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != name:
                continue
            if not issubclass(value, BaseAggregate):
                continue
            classes = [value] + [
                v
                for v in vars(value).values()
                if isinstance(v, type) and issubclass(v, CanMutateAggregate)
            ]
            for cls in classes:
                assert get_topic(cls) == f"{stored}:{cls.__qualname__}", cls
                assert resolve_topic(get_topic(cls)) is cls
                checked += 1
    assert checked > 100  # every aggregate and its events, not a handful
    from ledger.domain.cases import Case
    from ledger.domain.keys import ActorKey

    assert get_topic(Case.Submitted) == "ledger.cases:Case.Submitted"  # type: ignore[attr-defined]
    assert get_topic(ActorKey.Registered) == "ledger.keys:ActorKey.Registered"  # type: ignore[attr-defined]
