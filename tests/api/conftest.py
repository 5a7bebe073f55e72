"""A real ``caseledger serve`` on loopback, on each storage backend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "test passphrase for the keystore"


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python -m api.cli ARGS`` from the repository root, output captured as text; ``env``
    replaces the environment when given; ``check`` raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    db: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def token(self, role: str, department: str = "", official: str = "") -> str:
        """A token of ``role``; ``official``: issued to that appointed official (their key
        signs what it does), else a department's or the office's system token (``--system``) or a
        role's own."""
        args = ["token", "create", "--db", self.db, "--role", role]
        if department:
            args += ["--department", department]
        if official:
            args += ["--official", official]
        elif role in ("department", "supervisor"):
            args += ["--system"]
        return run_cli(*args, env=self.env, timeout=60, check=True).stdout.strip()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_server(db: str, keystore: Path, *extra: str) -> Served:
    port = free_port()
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(keystore),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--db", db, "--port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"serve exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Served(url, db, env, process)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("serve did not answer /healthz within 60 s")


def stop_server(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.process.kill()


@pytest.fixture
def served(storage_url: str, tmp_path: Path) -> Iterator[Served]:
    server = start_server(storage_url, tmp_path / "keys")
    try:
        yield server
    finally:
        stop_server(server)
