"""The rules as auditable data (issue #16 item 5): every refusal class is in the registry with
its article and the module that raises it; every registry entry is exercised by a test that
expects it; every rule id of RULES.md (the copy in ``ledger.domain.rule_ids``) is cited by a
test, or stands in the short, justified list below; the labelled defaults are the values the
code ships; and ``caseledger rules`` prints the table, from a checkout and from a copy of the
packages with no tests.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import ledger
from api.rule_audit import cited_rule_ids, exercised_by, read_tests
from ledger.domain.complaints import AnswerLimits
from ledger.domain.ratings import RECTIFICATION_DAYS
from ledger.domain.rule_ids import RULE_IDS, SECTIONS
from ledger.domain.rules import RULE_DEFAULTS, RULE_REGISTRY, RULE_VIOLATIONS
from ledger.errors import RuleViolation
from projections.supervision import SupervisionThresholds

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()


def _test_files() -> dict[str, str]:
    files = read_tests(TESTS)
    files.pop(THIS)  # this file names every id and class; it proves nothing about them
    return files


def _violations_defined_in_ledger() -> set[type[RuleViolation]]:
    found: set[type[RuleViolation]] = set()
    for info in pkgutil.walk_packages(ledger.__path__, "ledger."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, RuleViolation) and value.__module__ == info.name:
                found.add(value)
    return found


def test_every_refusal_class_of_the_ledger_is_in_the_registry_once() -> None:
    abstract = {RuleViolation}
    from ledger.domain.rules import FieldViolation

    abstract.add(FieldViolation)
    defined = _violations_defined_in_ledger() - abstract
    registered = [e.violation for e in RULE_REGISTRY]
    assert len(registered) == len(set(registered))
    assert sorted(c.__name__ for c in defined - set(registered)) == []
    assert tuple(registered) == RULE_VIOLATIONS
    codes = [e.code for e in RULE_REGISTRY]
    assert sorted({c for c in codes if codes.count(c) > 1}) == []


def test_each_entry_cites_known_rule_ids_and_a_section_of_rules_md() -> None:
    sections = set(SECTIONS)
    for entry in RULE_REGISTRY:
        assert entry.rule_ids, entry.name
        assert [i for i in entry.rule_ids if i not in RULE_IDS] == [], entry.name
        base = re.sub(r" \d+$", "", entry.article)
        assert any(s == base or s.startswith(base + " (") for s in sections), entry.name


def test_each_entry_is_raised_where_the_registry_says() -> None:
    """The module named must raise the class itself or one of its subclasses."""
    for entry in RULE_REGISTRY:
        names = {c.__name__ for c in RULE_VIOLATIONS if issubclass(c, entry.violation)}
        assert entry.enforced_in, entry.name
        for module in entry.enforced_in:
            source = inspect.getsource(importlib.import_module(module))
            assert any(re.search(rf"\b{n}\b", source) for n in names), (entry.name, module)


def test_every_registry_entry_is_exercised_by_a_test_that_expects_it() -> None:
    files = _test_files()
    unexercised = [e.name for e in RULE_REGISTRY if not exercised_by(e, files)]
    assert unexercised == []


def test_exercised_by_finds_expectations_not_mere_mentions() -> None:
    """The check can fail: an import or a docstring is not an expectation. (The samples are
    assembled, so this file expects nothing itself.)"""
    entry = next(e for e in RULE_REGISTRY if e.name == "CaseNotClosable")
    name, code = entry.name, entry.code
    assert exercised_by(entry, {"a.py": f"from x import {name}  # {name}, {code}"}) == ()
    assert exercised_by(entry, {"b.py": f"with pytest.raises({name}):"}) == ("b.py",)
    assert exercised_by(entry, {"c.py": f"refused(world, {name}, go)"}) == ("c.py",)
    assert exercised_by(entry, {"d.py": f'p["type"].endswith("/{code}")'}) == ("d.py",)


def test_every_rule_id_of_rules_md_is_cited_by_a_test() -> None:
    cited = cited_rule_ids(_test_files().values())
    uncited = sorted(i for i in RULE_IDS if i not in cited)
    assert uncited == [], "write a test from the article's text for each of these"


def test_cited_rule_ids_reads_both_spellings_and_no_longer_numbers() -> None:
    assert cited_rule_ids(["GZ16·15 and test_x_NH_20", "FZ·26(二)", "FZ·190"]) == {
        "GZ16·15",
        "NH·20",
        "FZ·26",
        "FZ·190",
    }
    assert "FZ·19" not in cited_rule_ids(["FZ·190"])


def test_the_labelled_defaults_are_what_the_code_ships() -> None:
    """Defaults no seed states, each checked against the setting it names."""
    by_name = {d.name: d for d in RULE_DEFAULTS}
    limits, lights = AnswerLimits(), SupervisionThresholds()
    assert by_name["consultation answer limit"].value.startswith(f"{limits.enquiry} ")
    assert (limits.enquiry, limits.complaint) == (3, 13)
    assert by_name["complaint answer limit"].value.startswith(f"{limits.complaint} ")
    assert (lights.yellow_percent, lights.yellow_days) == (20, 2)
    yellow = by_name["yellow light"].value
    assert "20 %" in yellow and "2 working days" in yellow
    assert RECTIFICATION_DAYS == 5
    assert by_name["rectification deadline"].value.startswith("5 working days")
    assert by_name["follow-up ratings per case"].value.startswith("1 ")
    for default in RULE_DEFAULTS:  # the setting each names exists
        module_name, *attrs = default.setting.split(".")
        target: object = importlib.import_module(module_name)
        while attrs:
            name = attrs.pop(0)
            if not hasattr(target, name):
                target = importlib.import_module(f"{target.__name__}.{name}")  # type: ignore[attr-defined]
            else:
                target = getattr(target, name)
        assert target is not None, default.setting


def _caseledger_rules(cwd: Path, pythonpath: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "api.cli", "rules", *args]
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_caseledger_rules_prints_rule_article_enforced_and_tested_where(tmp_path: Path) -> None:
    run = _caseledger_rules(tmp_path, ROOT)
    assert run.returncode == 0, run.stderr
    block = run.stdout.split("CaseNotClosable (case-not-closable)\n", 1)[1].split("\n")[:4]
    assert block[0] == "  rule      GZ16·15, NH·20, FZ·19"
    assert block[1] == "  article   RULES.md \u201cCase lifecycle 11\u201d"
    assert block[2] == "  enforced  ledger.domain.cases"
    assert "tests/ledger/test_case_lifecycle.py" in block[3]
    assert "rectification deadline: 5 working days" in run.stdout
    assert f"{len(RULE_REGISTRY)} refusals in the rule registry" in run.stdout


def test_caseledger_rules_works_from_packages_without_tests(tmp_path: Path) -> None:
    """As installed: the packages alone, no tests and no pyproject — "tested" says —."""
    for package in ("ledger", "projections", "anchors", "kiosk", "api"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    run = _caseledger_rules(tmp_path, tmp_path)
    assert run.returncode == 0, run.stderr
    tested = [line for line in run.stdout.splitlines() if line.startswith("  tested ")]
    assert len(tested) == len(RULE_REGISTRY)
    assert set(tested) == {"  tested    —"}
    missing = _caseledger_rules(tmp_path, tmp_path, "--tests", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "not a directory" in missing.stderr
