"""The log as a C2SP tiled log, read by auditors' tools from a real ``caseledger serve``.

A ledger grown to the spec's example size (70 000 entries, after an anchoring at 300) and
anchored to a real node process is served on loopback. Go's reference implementation
(golang.org/x/mod/sumdb/tlog and sumdb/note, Debian's golang-golang-x-mod-dev, built offline)
and our own reader (anchors.tile_reader) each fetch the checkpoint and every tile, and check
every entry against the cosigned root; the JSON proof routes are checked by both. Tampering
with a mirror is caught by both readers, each naming what failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from anchors import merkle
from anchors.codec import b64decode
from anchors.errors import AnchorError
from anchors.policy import TrustPolicy, parse_policy
from anchors.tile_reader import (
    DirectorySource,
    HttpSource,
    MirroringSource,
    TileLogError,
    read_log,
)
from ledger.services.application import open_ledger
from tests.anchors.processes import NodeProcess
from tests.anchors.tiled_world import TiledWorld, build_tiled_world
from tests.api.conftest import ROOT, Served, start_server, stop_server

GO_READER = ROOT / "tests" / "anchors" / "go_tlog_reader"
GO_PATH = Path("/usr/share/gocode")
X_MOD = GO_PATH / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog"
SIZES = (300, 70_000)


@dataclass
class Log:
    world: TiledWorld
    served: Served
    policy: TrustPolicy
    entry_hashes: list[bytes]

    def go_args(self) -> list[str]:
        args = ["-log", self.served.url, "-key", self.policy.checkpoint_key.to_key()]
        for v in self.policy.validators:
            args += ["-witness", v.to_key()]
        return [*args, "-k", str(self.policy.threshold)]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    tmp = tmp_path_factory.mktemp("tiled")
    node = NodeProcess(tmp / "node").start()
    try:
        world = build_tiled_world(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp, node.url, SIZES)
    finally:
        node.stop()
    ledger = open_ledger(world.db)
    try:
        hashes = [e.entry_hash for e in ledger.chain.select_entries(1, SIZES[-1])]
    finally:
        ledger.close()
    served = start_server(world.db, world.keystore)
    try:
        yield Log(world, served, parse_policy(world.policy.read_bytes()), hashes)
    finally:
        stop_server(served)


@pytest.fixture(scope="module")
def go_reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go reader, built offline in GOPATH mode against Debian's golang.org/x/mod."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("needs Go (Debian golang-go) for the reference reader")
    assert X_MOD.is_dir(), "apt-get install golang-golang-x-mod-dev (golang.org/x/mod sources)"
    out = tmp_path_factory.mktemp("go")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(out),
        "GO111MODULE": "off",
        "GOPATH": str(GO_PATH),
        "GOCACHE": str(out / "cache"),
        "GOFLAGS": "",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
    }
    built = subprocess.run(
        [go, "build", "-o", str(out / "reader"), "."],
        cwd=GO_READER,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return out / "reader"


def run_go(reader: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(reader), *args], capture_output=True, text=True, timeout=300, check=False
    )


def kept_file(log: Log, tmp: Path) -> Path:
    path = tmp / "kept-checkpoint.txt"
    path.write_text(log.world.checkpoints[0], encoding="utf-8")
    return path


# --- Go's reference implementation --------------------------------------------------------------


def test_go_reference_reader_verifies_the_checkpoint_every_tile_and_every_entry(
    log: Log, go_reader: Path, tmp_path: Path
) -> None:
    token = log.served.token("auditor")
    result = run_go(
        go_reader,
        *log.go_args(),
        "-kept",
        str(kept_file(log, tmp_path)),
        "-audit-token",
        token,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["size"] == report["entries"] == SIZES[-1]
    assert report["origin"] == log.policy.origin
    assert len(report["cosigners"]) >= log.policy.threshold
    # 273 + 1 level-0, 1 + 1 level-1 and 1 level-2 tiles: the spec's own example, each once.
    assert report["hash_tiles"] == 277 and report["entry_bundles"] == 274
    assert report["entry_hashes_sha256"] == hashlib.sha256(b"".join(log.entry_hashes)).hexdigest()
    assert report["kept_size"] == SIZES[0]
    assert report["server_proofs_checked"] == 6  # 3 consistency + 3 inclusion, by sumdb/tlog


def test_go_reference_reader_refuses_a_checkpoint_under_another_key(
    log: Log, go_reader: Path
) -> None:
    from anchors.note import generate_signer

    _, other = generate_signer(log.policy.origin)
    args = log.go_args()
    args[args.index("-key") + 1] = other
    result = run_go(go_reader, *args)
    assert result.returncode == 1 and "checkpoint signature" in result.stderr


def test_go_reference_reader_catches_a_tampered_mirror(
    log: Log, go_reader: Path, mirrored: Path, tmp_path: Path
) -> None:
    mirror = _mirror(mirrored, tmp_path)
    args = log.go_args()
    args[args.index("-log") + 1] = str(mirror)
    assert run_go(go_reader, *args).returncode == 0
    bundle = mirror / "tile" / "entries" / "100"
    data = bytearray(bundle.read_bytes())
    data[2 + 34 * 7] ^= 1  # one bit of the 8th entry hash
    bundle.write_bytes(bytes(data))
    result = run_go(go_reader, *args)
    assert result.returncode == 1
    assert "tile/entries/100: entry 25607 does not hash to its leaf" in result.stderr


# --- our reader ---------------------------------------------------------------------------------


def test_our_reader_verifies_the_served_log_and_its_mirror_offline(
    log: Log, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    online = read_log(
        MirroringSource(HttpSource(log.served.url), mirror),
        log.policy,
        kept_checkpoint=log.world.checkpoints[0],
    )
    assert list(online.entry_hashes) == log.entry_hashes
    assert online.kept_size == SIZES[0] and online.checkpoint.size == SIZES[-1]
    assert online.resources == 1 + 277 + 274
    offline = read_log(DirectorySource(mirror), log.policy)
    assert offline.entry_hashes == online.entry_hashes
    remote = _Counting(HttpSource(log.served.url))
    again = read_log(MirroringSource(remote, mirror), log.policy)
    assert again.checkpoint.root == online.checkpoint.root
    # a second run fetches only what can change: the checkpoint and the partial tiles
    assert sorted(remote.paths) == [
        "checkpoint",
        "tile/0/273.p/112",
        "tile/1/001.p/17",
        "tile/2/000.p/1",
        "tile/entries/273.p/112",
    ]


class _Counting:
    def __init__(self, source: HttpSource) -> None:
        self.source, self.paths = source, list[str]()

    def fetch(self, path: str) -> bytes | None:
        self.paths.append(path)
        return self.source.fetch(path)


def test_the_command_line_reader_says_verified_or_rejected(log: Log, tmp_path: Path) -> None:
    def tiles(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "tiles", "verify", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    mirror = tmp_path / "mirror"
    kept = kept_file(log, tmp_path)
    ok = tiles(log.served.url, "--policy", str(log.world.policy), "--checkpoint", str(kept),
               "--mirror", str(mirror))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert f"VERIFIED tiled log {log.policy.origin}: size {SIZES[-1]}" in ok.stdout
    assert f"kept checkpoint of size {SIZES[0]}" in ok.stdout
    (mirror / "tile" / "1" / "000").write_bytes(bytes(8192))
    bad = tiles(str(mirror), "--policy", str(log.world.policy))
    assert bad.returncode == 1 and "REJECTED: levels" in bad.stdout
    missing = tiles(str(tmp_path / "nowhere"), "--policy", str(log.world.policy))
    assert missing.returncode == 1 and "no checkpoint published" in missing.stdout


@pytest.fixture(scope="module")
def mirrored(log: Log, tmp_path_factory: pytest.TempPathFactory) -> Path:
    mirror = tmp_path_factory.mktemp("mirrored") / "mirror"
    read_log(MirroringSource(HttpSource(log.served.url), mirror), log.policy)
    return mirror


def _mirror(mirrored: Path, tmp: Path) -> Path:
    return Path(shutil.copytree(mirrored, tmp / "mirror"))


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x80
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "step"),
    [
        (lambda m: _flip(m / "tile" / "0" / "005", 40), "levels"),
        (lambda m: _flip(m / "tile" / "2" / "000.p" / "1", 3), "levels"),
        (lambda m: _flip(m / "tile" / "0" / "273.p" / "112", 3), "root"),
        (lambda m: _flip(m / "tile" / "entries" / "273.p" / "112", 5), "entries"),
        (lambda m: (m / "tile" / "0" / "007").write_bytes(bytes(8160)), "tiles"),
        (lambda m: (m / "tile" / "entries" / "008").unlink(), "tiles"),
        (lambda m: (m / "tile" / "1" / "001.p" / "17").unlink(), "tiles"),
        (lambda m: _flip(m / "checkpoint", 60), "checkpoint"),
    ],
)
def test_our_reader_names_the_check_a_damaged_mirror_fails(
    log: Log, mirrored: Path, tmp_path: Path, damage: object, step: str
) -> None:
    mirror = _mirror(mirrored, tmp_path)
    damage(mirror)  # type: ignore[operator]
    with pytest.raises(TileLogError) as caught:
        read_log(DirectorySource(mirror), log.policy)
    assert caught.value.step == step, str(caught.value)


def test_a_partial_tile_the_log_no_longer_keeps_is_cut_from_its_full_tile(
    log: Log, mirrored: Path, tmp_path: Path
) -> None:
    mirror = _mirror(mirrored, tmp_path)
    (mirror / "checkpoint").write_text(log.world.checkpoints[0], encoding="utf-8")
    assert not (mirror / "tile" / "0" / "001.p").exists()  # size 300 needs tile/0/001.p/44
    report = read_log(DirectorySource(mirror), log.policy)
    assert report.checkpoint.size == SIZES[0]
    assert list(report.entry_hashes) == log.entry_hashes[: SIZES[0]]


def test_a_kept_checkpoint_the_log_no_longer_extends_is_a_fork_or_rollback(
    log: Log, mirrored: Path, tmp_path: Path
) -> None:
    mirror = _mirror(mirrored, tmp_path)
    current = (mirror / "checkpoint").read_text(encoding="utf-8")
    (mirror / "checkpoint").write_text(log.world.checkpoints[0], encoding="utf-8")
    with pytest.raises(TileLogError, match="rollback") as caught:
        read_log(DirectorySource(mirror), log.policy, kept_checkpoint=current)
    assert caught.value.step == "kept"


# --- the HTTP resources, as the spec writes them --------------------------------------------------


def test_tiles_and_checkpoint_carry_the_spec_content_types_and_caching(log: Log) -> None:
    with httpx.Client(base_url=log.served.url, timeout=30) as c:
        checkpoint = c.get("/checkpoint")
        full = c.get("/tile/0/000")
        partial = c.get("/tile/0/273.p/112")
        narrower = c.get("/tile/0/273.p/5")
        level2 = c.get("/tile/2/000.p/1")
        bundle = c.get("/tile/entries/273.p/112")
        beyond = [c.get(p) for p in ("/tile/0/274", "/tile/0/273.p/113", "/tile/0/273",
                                     "/tile/2/000.p/2", "/tile/entries/274.p/1")]  # fmt: skip
        malformed = [c.get(p) for p in ("/tile/0/1", "/tile/00/000", "/tile/0/x000/001",
                                        "/tile/0/000.p/256", "/tile/entries/000.p/0")]  # fmt: skip
    cli = subprocess.run(
        [sys.executable, "-m", "api.cli", "checkpoint", "--db", log.world.db],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert checkpoint.text == cli.stdout == log.world.checkpoints[-1]
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    assert checkpoint.headers["cache-control"] == "public, max-age=5"
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(full.content) == 8192 and full.content[:32] == merkle.leaf_hash(log.entry_hashes[0])
    assert partial.headers["cache-control"] == "public, max-age=60"
    assert len(partial.content) == 112 * 32 and partial.content.startswith(narrower.content)
    assert len(narrower.content) == 5 * 32 and len(level2.content) == 32
    assert len(bundle.content) == 112 * 34 and bundle.content[:2] == b"\x00\x20"
    assert bundle.content[2:34] == log.entry_hashes[273 * 256]
    assert [r.status_code for r in beyond] == [404] * 5
    assert [r.status_code for r in malformed] == [400] * 5
    assert all(r.headers["content-type"] == "application/problem+json" for r in malformed)


# --- proofs as JSON, for auditors ---------------------------------------------------------------


def test_consistency_and_inclusion_proofs_verify_against_the_cosigned_roots(log: Log) -> None:
    from anchors.note import parse_checkpoint, parse_note

    old = parse_checkpoint(parse_note(log.world.checkpoints[0]).text)
    new = parse_checkpoint(parse_note(log.world.checkpoints[-1]).text)
    with log.served.client(log.served.token("auditor")) as c:
        consistency = c.get("/v1/audit/consistency", params={"from": old.size, "to": new.size})
        from_zero = c.get("/v1/audit/consistency", params={"from": 0, "to": new.size})
        inclusions = {
            i: c.get("/v1/audit/inclusion", params={"index": i, "size": new.size})
            for i in (0, 299, 12_345, new.size - 1)
        }
    body = consistency.json()
    assert body["from"] == old.size and body["to"] == new.size
    proof = [b64decode(p, AnchorError, "proof") for p in body["proof"]]
    assert merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    assert from_zero.json()["proof"] == []
    for index, response in inclusions.items():
        found = response.json()
        assert found["sequence"] == index + 1 and found["size"] == new.size
        path = [b64decode(p, AnchorError, "proof") for p in found["proof"]]
        leaf = merkle.leaf_hash(log.entry_hashes[index])
        assert merkle.verify_inclusion(leaf, index, new.size, path, new.root_hash)


def test_proof_routes_are_for_auditors_and_name_bad_sizes(log: Log) -> None:
    beyond = SIZES[-1] + 10_000
    with log.served.client() as anonymous:
        assert anonymous.get("/v1/audit/consistency?from=1&to=2").status_code == 401
    with log.served.client(log.served.token("kiosk")) as kiosk:
        assert kiosk.get("/v1/audit/inclusion?index=0&size=1").status_code == 403
    with log.served.client(log.served.token("auditor")) as c:
        backwards = c.get("/v1/audit/consistency", params={"from": 5, "to": 4})
        outside = c.get("/v1/audit/inclusion", params={"index": 4, "size": 4})
        too_far = c.get("/v1/audit/consistency", params={"from": 1, "to": beyond})
    assert backwards.status_code == 422 and "from" in backwards.json()["detail"]
    assert outside.status_code == 422 and "index" in outside.json()["detail"]
    assert too_far.status_code == 404 and "leaves" in too_far.json()["detail"]


# --- both backends, and before anchoring ---------------------------------------------------------


def test_a_served_ledger_on_each_backend_is_a_tiled_log_our_reader_verifies(
    storage_url: str, tmp_path: Path
) -> None:
    node = NodeProcess(tmp_path / "node").start()
    try:
        world = build_tiled_world(storage_url, tmp_path, node.url, (300, 700))
    finally:
        node.stop()
    served = start_server(storage_url, world.keystore)
    try:
        report = read_log(
            HttpSource(served.url),
            parse_policy(world.policy.read_bytes()),
            kept_checkpoint=world.checkpoints[0],
        )
    finally:
        stop_server(served)
    ledger = open_ledger(storage_url)
    try:
        chain = [e.entry_hash for e in ledger.chain.select_entries(1, 700)]
    finally:
        ledger.close()
    assert list(report.entry_hashes) == chain and report.kept_size == 300


def test_before_anchoring_the_log_says_why_it_has_nothing(tmp_path: Path) -> None:
    from tests.anchors.tiled_world import open_world_runtime

    db = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    open_world_runtime(db, tmp_path / "keys", migrate=True).close()
    served = start_server(db, tmp_path / "keys")
    try:
        with httpx.Client(base_url=served.url, timeout=30) as c:
            checkpoint = c.get("/checkpoint")
            tile = c.get("/tile/0/000.p/1")
    finally:
        stop_server(served)
    assert checkpoint.status_code == tile.status_code == 404
    assert "no anchor node is configured" in checkpoint.json()["detail"]


# --- the auditor's walkthrough in docs/ANCHORING.md runs as written ------------------------------


def _walkthrough_blocks() -> list[str]:
    text = (ROOT / "docs" / "ANCHORING.md").read_text(encoding="utf-8")
    section = text[text.index("### Mirror the log and re-verify it independently") :]
    section = section[: section.find("\n## ")] if "\n## " in section else section
    # console blocks: the docs-run harness (tests/docs) leaves them to this test, which runs them
    # against a served 70,000-entry log
    blocks = re.findall(r"```console\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2, "the walkthrough has its curl/caseledger block and its Go block"
    return blocks


def test_the_auditor_walkthrough_in_anchoring_md_runs_as_written(
    log: Log, go_reader: Path, tmp_path: Path
) -> None:
    shim = tmp_path / ".venv" / "bin" / "caseledger"
    shim.parent.mkdir(parents=True)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m api.cli "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    shutil.copy(log.world.policy, tmp_path / "policy.json")
    env = {
        **os.environ,
        "LOG": log.served.url,
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "GOCACHE": str(tmp_path / "go-cache"),
        "GOFLAGS": "",
        "GOPROXY": "off",
    }
    outputs = []
    for block in _walkthrough_blocks():
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert ran.returncode == 0, f"{block}\n{ran.stdout}\n{ran.stderr}"
        outputs.append(ran.stdout)
    assert outputs[0].startswith(log.world.checkpoints[-1])
    assert outputs[0].count(f"VERIFIED tiled log {log.policy.origin}: size {SIZES[-1]}") == 2
    assert f"kept checkpoint of size {SIZES[-1]}" in outputs[0]
    reports = [json.loads(line) for line in outputs[1].splitlines()]
    assert [r["entries"] for r in reports] == [SIZES[-1]] * 2
    assert reports[0]["kept_size"] == SIZES[-1]
