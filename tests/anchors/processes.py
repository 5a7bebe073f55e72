"""Test helpers: the anchor node as its own real process on a free loopback port.

``caseledger node serve`` is started with ``subprocess`` (the installed entry point, run as
``python -m api.cli.main`` from this interpreter) and is ready when ``/healthz`` answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from api.demo.anchoring import free_port, node_command

READY_TIMEOUT_SECONDS = 20.0


@dataclass
class NodeProcess:
    """A running (or stopped) node process with its data directory and port."""

    data: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> NodeProcess:
        self.process = subprocess.Popen(
            node_command(self.data, self.port, *self.extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.stop()  # a node that never became ready is not left running
                raise
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                _, err = self.process.communicate()
                raise RuntimeError(f"node exited {self.process.returncode}: {err.decode()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if json.loads(r.read())["ok"]:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("node did not become ready")

    def __enter__(self) -> NodeProcess:
        """``with NodeProcess(path).start() as node:`` stops the node when the block ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
        self.process = None

    def run_to_exit(self, timeout: float = 20.0) -> tuple[int, str]:
        """Start and wait for the process to exit by itself (for refused starts)."""
        self.start(wait=False)
        assert self.process is not None
        _, err = self.process.communicate(timeout=timeout)
        code = self.process.returncode
        self.process = None
        return code, err.decode()
