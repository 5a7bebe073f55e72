"""End to end: ``caseledger demo`` as a real process drives every path of the case lifecycle,
and ``caseledger verify`` passes on its ledger (also after an applicant's erasure); its last
stage drives a real ``caseledger serve --workers 2`` over HTTP and leaves no process behind.
Its closing "next" block, and the README's "First five minutes", run as printed against it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.demo.cases import PATH_NAMES, PATHS
from tests.docs.runner import (
    Block,
    children_of,
    failures,
    group_members,
    run_blocks,
    shell_blocks,
    venv_bin,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("caseledger")
CLI = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()  # the installed console script (pip install -e .)
    else [sys.executable, "-c", "import sys; from api.cli.main import main; sys.exit(main())"]
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELEDGER_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``caseledger demo`` as the README's first command runs it: no options, so its files
    are under ``var/demo/`` of the working directory (``out`` here)."""
    here = tmp_path_factory.mktemp("demo")
    return here / "var" / "demo", run("demo", cwd=here)


def test_demo_exits_0_and_its_summary_names_every_path(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _out, result = demo
    assert result.returncode == 0, result.stderr + result.stdout
    for name in PATH_NAMES.values():
        assert name in result.stdout
    assert "open" in result.stdout and "erased" in result.stdout
    assert "verified" in result.stdout


def test_demo_drives_a_few_hundred_cases_through_every_path(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, result = demo
    assert result.returncode == 0, result.stderr
    cases = json.loads((out / "summary.json").read_text(encoding="utf-8"))["cases"]
    assert cases["total"] >= 250 and cases["items"] >= 5 and cases["applicants"] >= 50
    assert set(cases["paths"]) == set(PATHS)
    assert all(count > 0 for count in cases["paths"].values()), cases["paths"]
    assert cases["open"] == sum(cases["open_states"].values()) > 0
    assert sum(cases["paths"].values()) + cases["open"] == cases["total"]
    assert {"special_procedure", "submitted", "accepted"} <= set(cases["open_states"])
    assert cases["refused"]["authentication-too-low"] > 0
    assert cases["refused"]["second-correction-request"] > 0
    assert cases["erased"]


def test_demo_shows_each_intake_obligation_refused_recording_nothing_GZ20_12_FZ_23(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """One line per intake obligation (RULES.md "Further obligations"), each refused with the
    article's code, and the chain head unmoved by them."""
    out, result = demo
    assert result.returncode == 0, result.stderr
    intake = json.loads((out / "summary.json").read_text(encoding="utf-8"))["intake"]
    assert intake["recorded_nothing"] is True
    codes = {
        code.split(" ")[0] for code in [*intake["guides"].values(), *intake["grounds"].values()]
    }
    assert {
        "guide-forms-or-limit-exceed-window",
        "window-applicant-forced-online",
        "full-online-basis-missing",
        "guide-samples-missing",
        "electronic-material-refused",
        "paper-resignature-demanded",
        "online-backfill-demanded",
        "shared-data-not-fetched",
    } <= codes
    assert [line for line in intake["not_shared"] if " 0 receipts" in line] == []
    assert intake["not_shared"], "the demo's catalogue has an unshareable material (GZ16·4)"
    assert "intake         " in result.stdout


def test_verify_passes_on_the_demo_ledger(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, result = demo
    assert result.returncode == 0, result.stderr
    verify = run("verify", "--db", f"sqlite:///{out / 'caseledger.sqlite3'}", cwd=out)
    assert verify.returncode == 0, verify.stderr + verify.stdout


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc").is_dir():
        try:
            return stat.read_text().rpartition(")")[2].split()[0] != "Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_drives_a_real_http_server_and_leaves_no_process_behind(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, result = demo
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"^  http           serve --workers 2 on 127\.0\.0\.1:\d+ .*POST /v1/cases 201 "
        r"GZ-SCJG-\S+ .*→ same serial; GET progress submitted; GZ-GA token 404$",
        result.stdout,
        re.MULTILINE,
    ), result.stdout
    assert re.search(
        r"^  http burst     300 progress GETs over 8 keep-alive .* SIGTERM → exit 0$",
        result.stdout,
        re.MULTILINE,
    ), result.stdout
    http = json.loads((out / "summary.json").read_text(encoding="utf-8"))["http"]
    assert http["repeat_same_serial"] and http["progress_state"] == "submitted"
    assert http["other_department_status"] == 404 and http["exit_code"] == 0
    assert http["burst"]["statuses"] == {"200": 300} and not http["burst"]["errors"]
    pids = {http["server_pid"], *http["worker_pids"]}
    pids |= {int(p) for w in http["burst"]["by_worker"] for p in re.findall(r"\[(\d+)\]", w)}
    assert len(pids) >= 2
    assert [pid for pid in pids if _running(pid)] == []
    assert list(group_members(http["server_pid"])) == []


def test_demo_shows_red_light_credit_templates_duplicates_and_card_swallowing(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """FZ·24, GZ20·28 over HTTP; FZ·16's templates; GZ20·26(三); PY·21(二) in the fleet."""
    _, result = demo
    assert result.returncode == 0, result.stderr
    for pattern in (
        r"^  accountability red light GZ-GA-\S+: explained by the department 200 "
        r"\(delay_explanation\), 2 points deducted by the office 200 \(FZ·24\); credit entry "
        r"on GZ-SCJG-\S+ 201, joint-punishment list: yes \(GZ20·28\)$",
        r"^  templates      GET /v1/templates 200: 7 published \(FZ·16\), digest [0-9a-f]{16}…; "
        r"\d+ window refusals reported to the managing office \(窗口否决报备单\)$",
        r"^  duplicates     the walk's applicant registered again 201 → 1 "
        r"duplicate_registration flag \(GZ20·26\(三\)\)$",
        r"^  kiosk fleet    .*NH-GC-003 card_swallow_overdue: card 1 swallowed .*non-working "
        r"day, 24 h limit.*\(PY·21\(二\)\)",
    ):
        assert re.search(pattern, result.stdout, re.MULTILINE), (pattern, result.stdout)


NEXT = "next — try it, from this directory (copy the lines into a shell):"
CHECKS = """timeout 60 sh -c 'until curl -sf -o /dev/null localhost:8080/healthz; do sleep 1; done'
get() {
  curl -s -o /dev/null -w "$1 %{http_code}\\n" "localhost:8080$2" -H "Authorization: Bearer $3"
}
for token in "$ADMIN" "$DEPT" "$SUP" "$AUD" "$ARCH" "$KIOSK"; do get token /readyz "$token"; done
get dashboard /supervision "$SUP"
get docs /docs "$DEPT"
get checkpoint /v1/audit/checkpoint "$AUD"
get archive /v1/archive/index "$ARCH"
curl -s -o kiosk.html -w 'kiosk %{http_code}\\n' -X POST localhost:8080/kiosk/query \\
  -H "Authorization: Bearer $KIOSK" --data-urlencode "serial=$SERIAL" --data-urlencode "code=$CODE"
grep -q "$SERIAL" kiosk.html && echo "kiosk shows the case"
"""
CHECKED = """token 200
token 200
token 200
token 200
token 200
token 200
dashboard 200
docs 200
checkpoint 200
archive 200
kiosk 200
kiosk shows the case
"""


def _next_block(stdout: str) -> list[str]:
    lines = stdout.split(f"\n{NEXT}\n", 1)[1].splitlines()
    return [line.removeprefix("  ") for line in lines if line.startswith("  ")]


def test_the_next_block_serves_this_demo_with_a_token_per_role_and_checks_it_again(
    demo: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, result = demo
    assert result.returncode == 0, result.stderr
    lines = _next_block(result.stdout)
    walk = json.loads((out / "kiosk" / "kiosk.json").read_text(encoding="utf-8"))["walk_through"]
    assert any(f"serial {walk['serial']}, code {walk['code']}" in line for line in lines)
    assert sum(" token create " in line for line in lines) == 6
    given = Block(1, "\n".join(lines), None)
    checks = Block(2, f"SERIAL={walk['serial']}\nCODE={walk['code']}\n{CHECKS}", CHECKED)
    ran, problem = run_blocks([given, checks], out.parents[1], tmp_path, timeout=300)
    found = failures("the demo's next block", ran, problem)
    assert not found, "\n\n".join(found)
    verified = ran[0].output
    assert "verified: " in verified and "anchored: " in verified, verified


def test_the_readme_first_five_minutes_run_as_written(
    demo: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, result = demo
    assert result.returncode == 0, result.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## First five minutes\n", 1)[1].split("\n## ", 1)[0]
    blocks = shell_blocks(section)
    assert blocks and blocks[0].text.startswith(". .venv/bin/activate")
    here = out.parents[1]
    _venv_beside(here, tmp_path / "bin")
    ran, problem = run_blocks(blocks, here, tmp_path / "session", timeout=300)
    found = failures("README.md First five minutes", ran, problem)
    assert not found, "\n\n".join(found)
    assert "dashboard http://127.0.0.1:" in ran[-1].output
    assert "verified: " in ran[-1].output and "anchored: " in ran[-1].output


def _venv_beside(here: Path, shims: Path) -> None:
    """``here/.venv``: this interpreter's virtual environment (a link), as in the checkout."""
    if sys.prefix != sys.base_prefix and (Path(sys.prefix) / "bin" / "activate").exists():
        (here / ".venv").symlink_to(sys.prefix, target_is_directory=True)
        return
    (here / ".venv" / "bin").mkdir(parents=True)
    (here / ".venv" / "bin" / "activate").write_text(f'export PATH="{venv_bin(shims)}:$PATH"\n')


def test_demo_shows_named_officials_acting_beyond_the_case_commands(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The e-certificate is issued by a named official under the department's seal, and a
    supervision official (a supervisor as an individual) orders, the department answers."""
    summary = demo[0] / "summary.json"
    assert demo[1].returncode == 0, demo[1].stderr
    officials = json.loads(summary.read_text(encoding="utf-8"))["officials"]
    assert officials["refused"] == 3 and officials["history_verified"]
    assert officials["certificate_sealed_by"] == officials["decision_sealed_by"]  # the e-seal
    order = officials["order"]
    assert order["issued_by"] == "official:ZWFW-J01" and order["closed"]
    assert order["answer_sealed_by"] == officials["decision_sealed_by"]
    assert any("Certificate.Issued" in line for line in officials["history_lines"])
    assert "supervisor   official:ZWFW-J01" in demo[1].stdout


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return b""


def test_sigterm_stops_the_demo_and_the_node_it_started(tmp_path: Path) -> None:
    """A stop by SIGTERM (a service manager's, ``timeout``'s) unwinds the demo: the anchor
    node it started in its own process is stopped too, not left running, and the demo exits
    143 (128 + SIGTERM)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELEDGER_")}
    demo = subprocess.Popen(
        [*CLI, "demo"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        node: set[int] = set()
        while not node and time.monotonic() < deadline:
            assert demo.poll() is None, demo.stderr.read() if demo.stderr else ""
            node = {pid for pid in children_of(demo.pid) if b"node\x00serve" in _cmdline(pid)}
            time.sleep(0.05)
        assert node, "the demo started no node"
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=120) == 128 + signal.SIGTERM
        assert [pid for pid in node if _running(pid)] == []
    finally:
        if demo.poll() is None:
            demo.kill()
