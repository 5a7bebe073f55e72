"""CLI commands of the write side: ``migrate`` and ``demo``.

Layer: api.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from api.cli.main import EXIT_OK, key_args, storage_args
from api.settings import load_settings


def cmd_migrate(args: argparse.Namespace) -> int:
    from api.bootstrap import open_runtime

    runtime = open_runtime(
        load_settings(args.db, args.keystore, args.passphrase_file), migrate=True
    )
    head = runtime.ledger.chain.chain_head()
    print(
        f"migrated {runtime.settings.storage.redacted()}; chain head {head.sequence if head else 0}"
    )
    runtime.close()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo.main import run_demo

    return run_demo(db=args.db, out=Path(args.out), seed=args.seed)


def register(sub: Any) -> None:
    p = sub.add_parser("migrate", help="create tables, the keystore and the genesis command")
    storage_args(p)
    key_args(p)
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("demo", help="seed a city, drive cases, verify; files under --out")
    storage_args(p)
    p.add_argument("--out", default="var/demo", help="output directory (default ./var/demo)")
    p.add_argument("--seed", type=int, default=20261123, help="random seed of the scenario")
    p.set_defaults(handler=cmd_demo)
