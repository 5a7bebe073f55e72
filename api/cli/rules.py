"""``caseledger rules``: print the rule registry — each refusal with its rule, RULES.md
article, where it is enforced and which tests exercise it, then the labelled defaults.

Layer: api (thin shell over ``api.rule_audit``). Needs no database. Exit 0; 2 when
``--tests`` names no directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from api.cli.main import EXIT_OK, EXIT_USAGE


def cmd_rules(args: argparse.Namespace) -> int:
    from api.rule_audit import audit_rows, default_tests_dir, render
    from ledger.domain.rules import RULE_DEFAULTS

    tests_dir = Path(args.tests) if args.tests else default_tests_dir()
    if tests_dir is not None and not tests_dir.is_dir():
        print(f"caseledger rules: --tests {tests_dir}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    rows = audit_rows(tests_dir)
    if args.json:
        report = {
            "rules": [
                {
                    "violation": r.entry.name,
                    "code": r.entry.code,
                    "rule": r.entry.rule,
                    "article": r.entry.article,
                    "enforced_in": list(r.entry.enforced_in),
                    "tested_in": None if r.tested_in is None else list(r.tested_in),
                }
                for r in rows
            ],
            "defaults": [vars(d) for d in RULE_DEFAULTS],
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(render(rows, tests_dir))
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rules", help="print the rule registry: rule, article, enforced where, tested where"
    )
    p.add_argument(
        "--tests",
        help="tests directory to compute 'tested where' from (default: the source checkout's "
        "tests/, if any; without one the column says —)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(handler=cmd_rules)
