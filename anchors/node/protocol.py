"""The add-checkpoint request and response bodies of C2SP tlog-witness (anchors node layer, pure).

https://c2sp.org/tlog-witness ``POST /add-checkpoint``: the request body is ``old <size>``, then
one base64 consistency-proof hash per line (at most ``MAX_PROOF_LINES``), an empty line, and
the signed checkpoint note; it is bounded by ``MAX_BODY_BYTES``. A witness answers 200 with
its cosignature/v1 signature lines (:func:`cosignature_lines`), or 409 with the size it holds
as ``<size>\n`` of type :data:`SIZE_MEDIA_TYPE` (:func:`format_size`). This module formats and
parses exactly those bytes.

One extension, outside the body so the body stays the tlog-witness one: the request header
``Caseledger-Anchored-Block`` carries (base64) the signed header of the newest block the
ledger holds a receipt from. A node whose store lacks that block (its height is below, or it
holds another block there) was restored to an older state and refuses (409
``node-rolled-back``); a witness that ignores the header still accepts the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from anchors import note
from anchors.codec import b64decode, b64encode
from anchors.errors import AnchorError, NodeRefused

__all__ = [
    "ANCHORED_BLOCK_HEADER",
    "MAX_BODY_BYTES",
    "MAX_PRESENTED_BYTES",
    "MAX_PROOF_LINES",
    "SIZE_MEDIA_TYPE",
    "AddCheckpoint",
    "cosignature_lines",
    "format_size",
    "parse_add_checkpoint",
    "parse_presented_block",
]

MAX_PROOF_LINES: Final = 63
MAX_BODY_BYTES: Final = note.MAX_NOTE_BYTES + 8 * 1024
SIZE_MEDIA_TYPE: Final = "text/x.tlog.size"
"""Content type of a 409 answer: the tree size the witness holds, then a newline."""
ANCHORED_BLOCK_HEADER: Final = "Caseledger-Anchored-Block"
MAX_PRESENTED_BYTES: Final = 6 * 1024
"""Largest base64 value of the header (a block header with a few dozen signature lines)."""
_OLD: Final = re.compile(r"old (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed request: the size the client believes the node holds, proof, signed note."""

    old_size: int
    proof: tuple[bytes, ...]
    signed_note: str

    def format(self) -> str:
        lines = [f"old {self.old_size}", *(b64encode(p) for p in self.proof)]
        return "\n".join(lines) + "\n\n" + self.signed_note


class _LineError(AnchorError):
    pass


def _bad(detail: str) -> NodeRefused:
    return NodeRefused(400, "malformed-request", detail)


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body. Raises ``NodeRefused`` (400) for anything malformed."""
    if len(body) > MAX_BODY_BYTES:
        raise _bad(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad("body is not UTF-8") from exc
    head, sep, signed = text.partition("\n\n")
    if not sep:
        raise _bad("no empty line between the proof and the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise _bad("first line is not 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise _bad(f"more than {MAX_PROOF_LINES} proof lines")
    try:
        proof = tuple(b64decode(line, _LineError, "proof line") for line in lines[1:])
    except _LineError as exc:
        raise _bad(str(exc)) from exc
    if any(len(p) != 32 for p in proof):
        raise _bad("a proof hash is 32 bytes")
    return AddCheckpoint(int(match[1]), proof, signed)


def format_size(size: int) -> str:
    """The body of a 409 answer: ``<size>\n`` (decimal, no leading zeroes)."""
    return f"{int(size)}\n"


def cosignature_lines(cosigned_note: str, witnesses: Iterable[note.Verifier]) -> str:
    """The body of a 200 answer: the signature lines of ``cosigned_note`` made by the
    ``witnesses``' cosignature keys (name and key ID), in note order, each ending in a newline.

    Raises ``AnchorError`` if the note is malformed or carries none of them.
    """
    try:
        parsed = note.parse_note(cosigned_note)
    except note.NoteError as exc:
        raise AnchorError(f"cosigned checkpoint: {exc}") from exc
    keys = {(w.name, w.key_id) for w in witnesses if w.alg == note.ALG_COSIGNATURE_V1}
    lines = [s.line() for s in parsed.signatures if (s.name, s.key_id) in keys]
    if not lines:
        raise AnchorError("cosigned checkpoint: no cosignature of the witness keys")
    return "".join(lines)


def parse_presented_block(value: str) -> str:
    """The signed block-header note in a ``Caseledger-Anchored-Block`` header value (its
    signatures are checked by the node). Raises ``NodeRefused`` (400) for anything malformed."""
    if len(value) > MAX_PRESENTED_BYTES:
        raise _bad(f"{ANCHORED_BLOCK_HEADER}: longer than {MAX_PRESENTED_BYTES} characters")
    try:
        raw = b64decode(value.strip(), _LineError, ANCHORED_BLOCK_HEADER)
        return raw.decode("utf-8")
    except (_LineError, UnicodeDecodeError) as exc:
        raise _bad(f"{ANCHORED_BLOCK_HEADER}: not base64 of UTF-8 text") from exc
