"""The rule registry as an audit table: each refusal with its rule, article, where it is
enforced and which test files exercise it (``caseledger rules``).

Layer: api (reads ``ledger.domain.rules`` and ``ledger.domain.rule_ids``; nothing here writes).
"Tested where" is computed from a tests directory when one is at hand (a source checkout):
a test file exercises a violation when it expects the class — ``raises(X``, ``refused(…, X``,
``isinstance(…, X)`` — or asserts its ``code`` as a string; it cites a rule id when it
spells it (``GZ16·15``, or ``GZ16_15`` in a test name). An installed package has no tests:
the column then says "—".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.domain.rule_ids import RULE_IDS
from ledger.domain.rules import RULE_DEFAULTS, RULE_REGISTRY, RuleEntry

__all__ = [
    "NOT_AVAILABLE",
    "AuditRow",
    "audit_rows",
    "cited_rule_ids",
    "default_tests_dir",
    "exercised_by",
    "read_tests",
    "render",
]

NOT_AVAILABLE: Final = "—"
"""What "tested where" says when no tests directory is at hand."""

_ID = re.compile(r"(?<![A-Za-z0-9])(GZ20|GZ16|NH|PY|FZ|ALL)[·_](\d+)(?!\d)")


@dataclass(frozen=True)
class AuditRow:
    """One registry entry as the table shows it; ``tested_in`` is ``None`` without tests."""

    entry: RuleEntry
    tested_in: tuple[str, ...] | None


def default_tests_dir() -> Path | None:
    """The ``tests`` directory of the source checkout this package runs from, if any (an
    installed package has none: its parent holds no caseledger ``pyproject.toml``)."""
    root = Path(__file__).resolve().parents[1]
    project = root / "pyproject.toml"
    tests = root / "tests"
    try:
        ours = 'name = "caseledger"' in project.read_text(encoding="utf-8")
    except OSError:
        return None
    return tests if ours and tests.is_dir() else None


def read_tests(tests_dir: Path) -> dict[str, str]:
    """Every ``*.py`` file under ``tests_dir`` (relative path → text)."""
    return {
        path.relative_to(tests_dir.parent).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(tests_dir.rglob("*.py"))
    }


def _expects(name: str, code: str) -> re.Pattern[str]:
    return re.compile(
        r"(?:raises|refused|refuses|isinstance)\(\s*(?:[\w.\[\]]+,\s*)?\(?[\w., ]*?\b"
        + re.escape(name)
        + r"\b|[\"'/]"
        + re.escape(code)
        + r"[\"']"
    )


def exercised_by(entry: RuleEntry, files: Mapping[str, str]) -> tuple[str, ...]:
    """The test files that expect ``entry``'s violation (by class name or code)."""
    pattern = _expects(entry.name, entry.code)
    return tuple(path for path, text in files.items() if pattern.search(text))


def cited_rule_ids(files: Iterable[str]) -> set[str]:
    """The rule ids (``GZ16·15``) the texts spell, in either form."""
    return {f"{m.group(1)}·{m.group(2)}" for text in files for m in _ID.finditer(text)}


def audit_rows(tests_dir: Path | None) -> list[AuditRow]:
    files = read_tests(tests_dir) if tests_dir is not None else None
    return [
        AuditRow(entry, None if files is None else exercised_by(entry, files))
        for entry in RULE_REGISTRY
    ]


def render(rows: list[AuditRow], tests_dir: Path | None) -> str:
    """The table as text: one block per refusal, then the labelled defaults and the rule
    ids no registry entry cites (enforced otherwise, recorded, or not yet enforceable)."""
    out = [
        f"{len(rows)} refusals in the rule registry (ledger.domain.rules.RULE_REGISTRY); "
        f"tests read from {tests_dir if tests_dir else NOT_AVAILABLE + ' (no tests directory)'}",
        "",
    ]
    for row in rows:
        e = row.entry
        tested = NOT_AVAILABLE if row.tested_in is None else ", ".join(row.tested_in) or "NONE"
        out += [
            f"{e.name} ({e.code})",
            f"  rule      {e.rule}",
            f"  article   RULES.md \u201c{e.article}\u201d",
            f"  enforced  {', '.join(e.enforced_in)}",
            f"  tested    {tested}",
        ]
    out += ["", "Defaults (no seed states these values; configurable, not rules):"]
    out += [f"  {d.name}: {d.value} — {d.setting} ({d.basis})" for d in RULE_DEFAULTS]
    registered = {i for e in RULE_REGISTRY for i in e.rule_ids}
    other = [i for i in RULE_IDS if i not in registered]
    out += ["", f"Rule ids cited by no refusal class ({len(other)} of {len(RULE_IDS)}):"]
    out += [f"  {', '.join(other)}"]
    return "\n".join(out)
