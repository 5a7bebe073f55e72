"""``caseledger archive build/check`` exit codes, and the archivist's HTTP endpoints on a real
``caseledger serve`` — both on a ledger whose keys live in a real keystore."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli.main import main
from projections.archive.checker import check_package
from tests.anchors.processes import NodeProcess
from tests.api.conftest import start_server, stop_server
from tests.archive.runtime_world import PASSPHRASE, RuntimeWorld, build_runtime_world


@pytest.fixture(scope="module")
def rworld(tmp_path_factory: pytest.TempPathFactory) -> RuntimeWorld:
    tmp = tmp_path_factory.mktemp("runtime-world")
    return build_runtime_world(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp / "keys")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    with NodeProcess(tmp_path_factory.mktemp("cli-node")).start() as process:
        yield process


def _build(rworld: RuntimeWorld, node: NodeProcess, serial: str, out: Path, *more: str) -> int:
    return main(
        ["archive", "build", serial, "-o", str(out), "--db", rworld.db, "--keystore",
         str(rworld.keystore), "--node", node.url, *more]
    )  # fmt: skip


def test_cli_build_then_check(
    rworld: RuntimeWorld,
    node: NodeProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CASELEDGER_KEY_PASSPHRASE", PASSPHRASE)
    bag = tmp_path / "bag"
    assert _build(rworld, node, rworld.closed, bag, "--archivist", "档案员 赵六", "--json") == 0
    built = json.loads(capsys.readouterr().out)
    assert built["recorded"] and built["check"]["ok"] and built["archivist"] == "档案员 赵六"
    assert main(["archive", "check", str(bag)]) == 0
    printed = capsys.readouterr().out
    assert "PASSED" in printed and "second opinion (bagit): valid" in printed
    assert main(["archive", "check", str(bag), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and set(report["properties"]) == {
        "authenticity", "integrity", "usability", "security"
    }  # fmt: skip
    policy = tmp_path / "policy.json"
    policy.write_bytes((bag / "data/policy.json").read_bytes())
    assert main(["archive", "check", str(bag), "--policy", str(policy)]) == 0
    assert "policy trusted" in capsys.readouterr().out


def test_cli_exit_codes(
    rworld: RuntimeWorld,
    node: NodeProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CASELEDGER_KEY_PASSPHRASE", PASSPHRASE)
    assert _build(rworld, node, rworld.open, tmp_path / "open") == 1  # a rule: NH·22 …
    assert "NH·22, FZ·21, GZ20·24" in capsys.readouterr().err
    assert _build(rworld, node, "GZ-SCJG-20260928-999999X", tmp_path / "none") == 2
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "x").write_text("x")
    assert _build(rworld, node, rworld.closed, occupied) == 2
    assert main(["archive", "check", str(tmp_path / "missing")]) == 2
    assert main(["archive", "check", str(occupied), "--policy", str(occupied / "x")]) == 2
    assert main(["archive", "check", str(occupied)]) == 1  # not a package at all
    with pytest.raises(SystemExit) as usage:
        main(["archive", "check"])
    assert usage.value.code == 2


def test_a_policy_other_than_the_package_s_fails_the_check(
    rworld: RuntimeWorld,
    node: NodeProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASELEDGER_KEY_PASSPHRASE", PASSPHRASE)
    bag = tmp_path / "bag"
    assert _build(rworld, node, rworld.closed, bag) == 0
    value = json.loads((bag / "data/policy.json").read_bytes())
    value["anchor_node"]["threshold"] = 1
    other = tmp_path / "weaker.json"
    other.write_text(json.dumps(value))
    assert main(["archive", "check", str(bag), "--policy", str(other), "--no-bagit"]) == 1


def test_http_archivist_builds_downloads_checks_and_lists(
    rworld: RuntimeWorld, node: NodeProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELEDGER_NODE", node.url)
    monkeypatch.setenv("CASELEDGER_ARCHIVE_DIR", str(tmp_path / "archive"))
    served = start_server(rworld.db, rworld.keystore)
    try:
        archivist = served.client(served.token("archivist"))
        department = served.client(served.token("department", "GZ-SCJG"))
        assert department.post(f"/v1/archive/packages/{rworld.closed}").status_code == 403
        refused = archivist.post(f"/v1/archive/packages/{rworld.open}")
        assert refused.status_code == 422 and refused.json()["rule"] == "NH·22, FZ·21, GZ20·24"
        built = archivist.post(f"/v1/archive/packages/{rworld.closed}")
        assert built.status_code == 201, built.text
        assert built.json()["check"]["ok"]
        download = archivist.get(f"/v1/archive/packages/{rworld.closed}")
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            archive.extractall(tmp_path / "downloaded")
        assert check_package(tmp_path / "downloaded" / rworld.closed).ok
        check = archivist.get(f"/v1/archive/packages/{rworld.closed}/check")
        assert check.status_code == 200 and check.json()["ok"]
        rows = archivist.get("/v1/archive/index").json()
        assert rworld.closed in {r["serial"] for r in rows}
        assert rworld.open not in {r["serial"] for r in rows}
        assert archivist.get("/v1/archive/packages/NO-SUCH-1").status_code == 404
    finally:
        stop_server(served)
