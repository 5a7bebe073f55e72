"""Supersession statements: a signed "this anchor configuration replaces that one".

Layer: anchors (pure). Follows TUF's root rotation rule (the old root signs the new one) with
C2SP signed notes (https://c2sp.org/signed-note). The statement's text is exactly these lines
(docs/ANCHORING.md §4.2)::

    caseledger-trust-policy-supersession/v1
    origin <log origin>
    old <hex AnchorConfig.fingerprint of the configuration replaced>
    new <hex AnchorConfig.fingerprint of the configuration replacing it>
    last-size <largest checkpoint size anchored under the old configuration>

signed (Ed25519, type 0x01) by the old configuration's checkpoint key and, when the checkpoint
key changes, by the new one as well (proof that its holder takes over). Both keys are named
after the origin, like every checkpoint key. The first line keeps a statement from ever parsing
as a tlog-checkpoint (whose second line is a decimal size), so the one key cannot be tricked
into signing one for the other.

:func:`verify_supersessions` checks a policy's whole history: statement ``i`` must name
configuration ``i`` as old and configuration ``i + 1`` (or the current one) as new, with that
configuration's ``last_size``. A forged, reordered or stale statement raises
``SupersessionError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from anchors import note
from anchors.errors import AnchorError, PolicyError
from anchors.policy import AnchorConfig, Supersession, TrustPolicy

__all__ = [
    "STATEMENT_HEADER",
    "SupersessionError",
    "required_signers",
    "sign_supersession",
    "statement_text",
    "supersede",
    "verify_supersessions",
]

STATEMENT_HEADER: Final = "caseledger-trust-policy-supersession/v1"


class SupersessionError(AnchorError):
    """A supersession statement does not verify: the policy's history is not signed."""


def statement_text(old: AnchorConfig, new: AnchorConfig, last_size: int) -> str:
    """The exact note text a supersession of ``old`` by ``new`` after ``last_size`` signs."""
    return (
        f"{STATEMENT_HEADER}\norigin {old.origin}\nold {old.fingerprint().hex()}\n"
        f"new {new.fingerprint().hex()}\nlast-size {last_size}\n"
    )


def required_signers(old: AnchorConfig, new: AnchorConfig) -> tuple[note.Verifier, ...]:
    """The old checkpoint key, and the new one when it differs."""
    if old.checkpoint_key == new.checkpoint_key:
        return (old.checkpoint_key,)
    return (old.checkpoint_key, new.checkpoint_key)


def sign_supersession(
    old: AnchorConfig, new: AnchorConfig, last_size: int, signers: Iterable[note.Signer]
) -> str:
    """The signed statement. ``signers`` must hold every key of :func:`required_signers`.

    Raises ``SupersessionError`` when one is missing or the text cannot be signed.
    """
    listed = list(signers)
    have = {s.verifier().key_id for s in listed}
    missing = [v.to_key() for v in required_signers(old, new) if v.key_id not in have]
    if missing:
        raise SupersessionError(f"supersession: needs the signature of {', '.join(missing)}")
    try:
        return note.sign_note(statement_text(old, new, last_size), listed)
    except note.NoteError as exc:
        raise SupersessionError(f"supersession: {exc}") from exc


def _verify_one(index: int, old: AnchorConfig, new: AnchorConfig, last: int, text: str) -> None:
    where = f"supersedes[{index}] (configuration {old.fingerprint().hex()[:16]}…)"
    needed = required_signers(old, new)
    try:
        opened = note.open_note(text, needed)
    except note.NoteError as exc:
        raise SupersessionError(
            f"{where}: the statement is not signed by the superseded configuration's checkpoint "
            f"key: {exc}"
        ) from exc
    signed = {(s.name, s.key_id) for s in opened.signatures if s.alg == note.ALG_ED25519}
    for verifier in needed:
        if (verifier.name, verifier.key_id) not in signed:
            raise SupersessionError(f"{where}: no signature of {verifier.to_key()}")
    expected = statement_text(old, new, last)
    if opened.text != expected:
        raise SupersessionError(
            f"{where}: the signed statement says {opened.text!r}, the policy needs {expected!r}"
        )


def verify_supersessions(policy: TrustPolicy) -> int:
    """Check every statement of ``policy.supersedes``; returns how many were checked.

    Raises ``SupersessionError`` naming the first statement that does not verify.
    """
    configs = [s.config for s in policy.supersedes] + [policy.anchor_config()]
    for index, s in enumerate(policy.supersedes):
        _verify_one(index, s.config, configs[index + 1], s.last_size, s.statement)
    return len(policy.supersedes)


def supersede(
    old: TrustPolicy, new: TrustPolicy, last_size: int, signers: Iterable[note.Signer]
) -> TrustPolicy:
    """``new`` carrying ``old``'s history plus a signed statement that ``new``'s configuration
    replaces ``old``'s after checkpoint size ``last_size``.

    Raises ``SupersessionError`` when ``old``'s own history does not verify, the two are for
    different origins or have the same configuration, ``last_size`` does not grow, or a needed
    key is missing from ``signers``.
    """
    verify_supersessions(old)
    old_config, new_config = old.anchor_config(), new.anchor_config()
    if old.origin != new.origin:
        raise SupersessionError(f"supersession: origins differ ({old.origin}, {new.origin})")
    if old_config == new_config:
        raise SupersessionError("supersession: the configuration did not change")
    if old.supersedes and last_size <= old.supersedes[-1].last_size:
        raise SupersessionError(
            f"supersession: last size {last_size} is not above the previous one "
            f"({old.supersedes[-1].last_size})"
        )
    statement = sign_supersession(old_config, new_config, last_size, signers)
    try:
        return replace(
            new, supersedes=(*old.supersedes, Supersession(old_config, last_size, statement))
        )
    except PolicyError as exc:
        raise SupersessionError(f"supersession: {exc}") from exc
