"""``caseledger templates``: print the published standard templates (标准化模板, FZ·16) — each
title, the document kind issued from it, the fields that document must state, the command that
issues it — and the digest of the set, the version an auditor compares.

Layer: api (thin shell over ``ledger.domain.templates``). Needs no database. Exit 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from api.cli.main import EXIT_OK


def cmd_templates(args: argparse.Namespace) -> int:
    from ledger.domain.templates import BASIS, PUBLISHED_TEMPLATES, templates_digest

    digest = templates_digest()
    if args.json:
        report = {
            "basis": BASIS,
            "digest": digest,
            "templates": [dataclasses.asdict(t) for t in PUBLISHED_TEMPLATES],
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{len(PUBLISHED_TEMPLATES)} published templates ({BASIS}), digest sha256:{digest}")
    for t in PUBLISHED_TEMPLATES:
        print()
        print(t.title)
        print(f"  kind      {t.kind or '— (no sealed document)'}")
        print(f"  fields    {', '.join(t.fields)}")
        print(f"  issued by {t.issued_by}")
        print(f"  articles  {t.articles}")
        if t.note:
            print(f"  note      {t.note}")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "templates", help="print the published standard templates (FZ·16) and their digest"
    )
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(handler=cmd_templates)
