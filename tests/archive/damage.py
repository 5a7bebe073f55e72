"""Damage done to copies of archive packages, the way someone with the files would do it.

Written with the standard library and our canonical encoders only where an attacker would need
them (to re-encode a document or a bundle). ``recompute`` brings every manifest, the
Payload-Oxum and the register back in line with the files: what a careful forger does so that
BagIt validation passes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path


def copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def payload_files(bag: Path) -> list[str]:
    return sorted(p.relative_to(bag).as_posix() for p in (bag / "data").rglob("*") if p.is_file())


def _manifest(bag: Path, names: list[str]) -> bytes:
    lines = [f"{hashlib.sha512((bag / n).read_bytes()).hexdigest()}  {n}\n" for n in sorted(names)]
    return "".join(lines).encode()


def recompute(bag: Path, *, register: bool = True) -> None:
    """Rewrite register.json, manifest-sha512.txt, Payload-Oxum and tagmanifest-sha512.txt."""
    if register and (bag / "data/register.json").exists():
        rows = []
        for name in payload_files(bag):
            if name == "data/register.json":
                continue
            old = json.loads((bag / "data/register.json").read_text())
            known = {r["path"]: r for r in old["files"]}
            media = known.get(name, {}).get("media_type", "application/pdf")
            role = known.get(name, {}).get("role", "material")
            rows.append(
                {
                    "path": name,
                    "bytes": (bag / name).stat().st_size,
                    "media_type": media,
                    "role": role,
                }
            )
        value = {
            "bytes": sum(r["bytes"] for r in rows),
            "count": len(rows),
            "files": rows,
            "format": "caseledger-archive-register/v1",
        }
        (bag / "data/register.json").write_text(
            json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        )
    names = payload_files(bag)
    (bag / "manifest-sha512.txt").write_bytes(_manifest(bag, names))
    total = sum((bag / n).stat().st_size for n in names)
    info = (bag / "bag-info.txt").read_text().splitlines()
    info = [
        f"Payload-Oxum: {total}.{len(names)}" if i.startswith("Payload-Oxum:") else i for i in info
    ]
    (bag / "bag-info.txt").write_text("\n".join(info) + "\n")
    tags = sorted(
        p.relative_to(bag).as_posix()
        for p in bag.rglob("*")
        if p.is_file() and not p.relative_to(bag).as_posix().startswith(("data/", "tagmanifest-"))
    )
    if (bag / "tagmanifest-sha512.txt").exists():
        (bag / "tagmanifest-sha512.txt").write_bytes(_manifest(bag, tags))


def flip_byte(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if at is None else at
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def first(bag: Path, pattern: str) -> Path:
    return sorted(bag.glob(pattern))[0]


def make_executable(path: Path) -> None:
    os.chmod(path, 0o755)
