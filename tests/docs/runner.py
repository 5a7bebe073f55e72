"""Runs a document's shell blocks, in order, as one shell session, and checks what they claim.

Layer: tests (docs). The convention, stated at the top of each runnable document:

* Every fenced block marked ``sh`` runs, in order, in one ``bash`` session (``set -euo pipefail``:
  a failing command or an unset variable fails its block) in an empty working directory, with
  the virtual environment's ``bin`` first on ``PATH`` (``caseledger``, ``python3``) and no
  ``CASELEDGER_*`` variable but those the blocks set. A block that fails stops the run.
* A ``text`` block that follows an ``sh`` block with nothing but blank lines between them is
  that block's expected standard output, compared line by line: ``…`` stands for any text
  within a line, and a line that is only ``…`` for any number of lines.
* Ports 8080 (``caseledger serve``) and 8700 (the anchor node) are replaced by free ports, in
  the blocks and their expected output alike, so runs side by side do not collide.
* Every other fenced block (``text``, ``json``, ``mermaid``, …) is not run; a fence without a
  language is refused (say what it is).

The session runs in its own process group; whatever it leaves running (a server started with
``&`` and not stopped) is stopped when the run ends.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

RUN: Final = "sh"
EXPECTED: Final = "text"
PORTS: Final = (8080, 8700)
"""The documented ports, replaced by free ones in a run."""
WILDCARD: Final = "…"
_FENCE: Final = re.compile(r"^```(\S*)\s*$")
_DONE: Final = "done"


class DocFormatError(ValueError):
    """The document breaks the convention (named with its line)."""


@dataclass(frozen=True)
class Block:
    """An ``sh`` block: its first line in the document, its text, its expected output."""

    line: int
    text: str
    expected: str | None


@dataclass(frozen=True)
class Fenced:
    line: int
    language: str
    text: str
    end: int


def fenced_blocks(markdown: str) -> list[Fenced]:
    """Every fenced block (``` fences at the start of a line), with its language."""
    found: list[Fenced] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if opened is None:
            i += 1
            continue
        language, start = opened.group(1), i + 1
        j = start
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise DocFormatError(f"line {start}: a fence that is never closed")
        if not language:
            raise DocFormatError(f"line {start}: a fence without a language (sh, text, json …)")
        found.append(Fenced(start, language, "\n".join(lines[start:j]), j + 1))
        i = j + 1
    return found


def shell_blocks(markdown: str) -> list[Block]:
    """The ``sh`` blocks in order, each with the ``text`` block right after it, if any."""
    fenced = fenced_blocks(markdown)
    lines = markdown.splitlines()
    blocks: list[Block] = []
    for k, block in enumerate(fenced):
        if block.language != RUN:
            continue
        expected = None
        if k + 1 < len(fenced) and fenced[k + 1].language == EXPECTED:
            between = lines[block.end : fenced[k + 1].line - 1]
            if all(not line.strip() for line in between):
                expected = fenced[k + 1].text
        blocks.append(Block(block.line, block.text, expected))
    return blocks


def output_matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` has the lines of ``expected`` (``…`` a wildcard; a line of ``…``
    alone any number of lines). Trailing blanks and a final newline do not count."""
    want = [line.rstrip() for line in expected.strip("\n").splitlines()]
    have = [line.rstrip() for line in actual.strip("\n").splitlines()]
    patterns = [None if line.strip() == WILDCARD else re.compile(_pattern(line)) for line in want]
    return _match(patterns, have)


def _pattern(line: str) -> str:
    return ".*".join(re.escape(part) for part in line.split(WILDCARD)) + r"\Z"


def _match(patterns: Sequence[re.Pattern[str] | None], lines: Sequence[str]) -> bool:
    if not patterns:
        return not lines
    first, rest = patterns[0], patterns[1:]
    if first is None:
        return any(_match(rest, lines[skip:]) for skip in range(len(lines) + 1))
    return bool(lines) and first.match(lines[0]) is not None and _match(rest, lines[1:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_ports(text: str, ports: dict[int, int]) -> str:
    for documented, free in ports.items():
        text = re.sub(rf"(?<!\d){documented}(?!\d)", str(free), text)
    return text


@dataclass(frozen=True)
class Ran:
    """One block's run: its exit status (None: not reached), output and errors."""

    block: Block
    status: int | None
    output: str
    errors: str


def script(blocks: Sequence[Block], ports: dict[int, int]) -> str:
    """One bash script: each block's output goes to its own files in ``$DOCRUN``."""
    parts = [
        "set -euo pipefail",
        '__block() { exec >"$DOCRUN/$1.out" 2>"$DOCRUN/$1.err"; echo "$1" >"$DOCRUN/at"; }',
    ]
    for n, block in enumerate(blocks):
        parts += [f"__block {n}", with_ports(block.text, ports)]
    parts.append(f"__block {_DONE}")
    return "\n".join(parts) + "\n"


def environment(bin_dir: Path) -> dict[str, str]:
    """This process's environment without CASELEDGER_* settings, ``bin_dir`` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELEDGER_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def venv_bin(scratch: Path) -> Path:
    """The directory with ``caseledger`` and ``python3`` of this interpreter: its own ``bin``
    when the console script is there (``pip install -e .``), else shims in ``scratch``."""
    here = Path(sys.executable).parent
    if (here / "caseledger").exists() and (here / "python3").exists():
        return here
    scratch.mkdir(parents=True, exist_ok=True)
    for name, command in (
        ("caseledger", f'"{sys.executable}" -m api.cli'),
        ("python3", f'"{sys.executable}"'),
    ):
        shim = scratch / name
        shim.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        shim.chmod(0o755)
    return scratch


def run_blocks(
    blocks: Sequence[Block], workdir: Path, scratch: Path, *, timeout: float
) -> tuple[list[Ran], str]:
    """Run ``blocks`` in ``workdir``; returns each block's run and, if the session did not end
    by itself within ``timeout`` seconds, why."""
    ports = {documented: free_port() for documented in PORTS}
    logs = scratch / "blocks"
    logs.mkdir(parents=True)
    (scratch / "script.sh").write_text(script(blocks, ports), encoding="utf-8")
    env = environment(venv_bin(scratch / "bin"))
    env["DOCRUN"] = str(logs)
    session = subprocess.Popen(
        ["bash", str(scratch / "script.sh")],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    problem = ""
    try:
        status = session.wait(timeout)
    except subprocess.TimeoutExpired:
        status = None
        problem = f"the session did not end within {timeout:.0f} s"
    finally:
        stop_group(session.pid)
        session.wait()
    at = (logs / "at").read_text().strip() if (logs / "at").exists() else "0"
    reached = len(blocks) if at == _DONE else int(at)
    ran = []
    for n, block in enumerate(blocks):
        out, err = (logs / f"{n}.out", logs / f"{n}.err")
        code: int | None = 0 if n < reached else None
        if n == reached and status is not None:
            code = status
        ran.append(
            Ran(
                Block(block.line, with_ports(block.text, ports), _expected(block, ports)),
                code,
                out.read_text(errors="replace") if out.exists() else "",
                err.read_text(errors="replace") if err.exists() else "",
            )
        )
    return ran, problem


def _expected(block: Block, ports: dict[int, int]) -> str | None:
    return None if block.expected is None else with_ports(block.expected, ports)


def stop_group(group: int, grace: float = 10.0) -> None:
    """Stop every process of process group ``group`` (TERM, then KILL after ``grace`` s)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(True for _ in group_members(group)):
            time.sleep(0.1)


def _live() -> Iterator[tuple[int, list[str]]]:
    """``(pid, fields)`` of every live process (zombies excluded): the fields of its
    /proc/PID/stat after the command name (state, parent, process group, …)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            yield int(stat.parent.name), fields


def group_members(group: int) -> Iterator[int]:
    """Live processes of ``group`` (from /proc; zombies excluded)."""
    return (pid for pid, fields in _live() if int(fields[2]) == group)


def children_of(parent: int) -> set[int]:
    """Live processes whose parent is ``parent`` (from /proc; zombies excluded)."""
    return {pid for pid, fields in _live() if int(fields[1]) == parent}


def failures(doc: str, ran: Sequence[Ran], problem: str) -> list[str]:
    """What went wrong, block by block, in words (empty: the document runs as written)."""
    found = []
    for r in ran:
        where = f"{doc} line {r.block.line}"
        if r.status is None:
            continue
        if r.status != 0:
            found.append(
                f"{where}: the block exited {r.status}\n--- block\n{r.block.text}\n"
                f"--- stdout\n{r.output[-3000:]}\n--- stderr\n{r.errors[-3000:]}"
            )
        elif r.block.expected is not None and not output_matches(r.block.expected, r.output):
            found.append(
                f"{where}: the output is not what the document shows\n--- expected\n"
                f"{r.block.expected}\n--- actual\n{r.output[-3000:]}\n--- stderr\n"
                f"{r.errors[-2000:]}"
            )
    if problem:
        last = next((r for r in ran if r.status is None), ran[-1] if ran else None)
        at = f" (in the block at line {last.block.line})" if last else ""
        found.append(problem + at)
    return found
