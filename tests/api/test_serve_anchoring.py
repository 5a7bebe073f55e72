"""``caseledger serve --node URL`` anchors continuously; ``verify --node`` then passes.

The ledger server and the anchor node run as two real processes on loopback.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.anchors.processes import NodeProcess
from tests.api.conftest import ROOT, start_server, stop_server


def test_a_served_ledger_is_anchored_and_verifies_against_the_node(
    storage_url: str, tmp_path: Path
) -> None:
    node = NodeProcess(tmp_path / "node").start()
    try:
        served = start_server(storage_url, tmp_path / "keys", "--node", node.url)
        try:
            deadline = time.monotonic() + 30
            anchoring: dict[str, object] = {}
            while time.monotonic() < deadline:
                with served.client() as c:
                    anchoring = c.get("/readyz").json()["anchoring"]
                if anchoring.get("anchored_size", 0) >= 1:
                    break
                time.sleep(0.2)
            assert anchoring["configured"] is True
            assert anchoring["anchored_size"] >= 1, anchoring
        finally:
            stop_server(served)
        result = subprocess.run(
            [sys.executable, "-m", "api.cli", "verify", "--db", storage_url, "--node", node.url],
            cwd=ROOT,
            env=served.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "anchor" in result.stdout.lower()
    finally:
        node.stop()
