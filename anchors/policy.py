"""The trust policy: which keys an auditor trusts, and how many validators must agree.

Layer: anchors (pure; parses untrusted JSON into a frozen, validated value).
Format (docs/ANCHORING.md §4), a JSON object of at most ``MAX_POLICY_BYTES``::

    {"format": "caseledger-trust-policy/v1",
     "ledger": {"origin": "<log origin>",
                "checkpoint_key": "<C2SP signed-note verifier key, name = origin>",
                "platform_keys": ["<hex Ed25519 public key>", ...]},
     "anchor_node": {"name": "<node name>",
                     "validators": ["<C2SP cosignature/v1 verifier key>", ...],
                     "threshold": k}}

A validator's block-header signatures are ordinary signed-note Ed25519 signatures by the same
key under the same name (type 0x01 key ID), derived by :meth:`TrustPolicy.block_verifiers`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from anchors import note
from anchors.codec import load_json
from anchors.errors import PolicyError

__all__ = ["MAX_POLICY_BYTES", "POLICY_FORMAT", "TrustPolicy", "parse_policy"]

POLICY_FORMAT: Final = "caseledger-trust-policy/v1"
MAX_POLICY_BYTES: Final = 64 * 1024
MAX_VALIDATORS: Final = 64
MAX_PLATFORM_KEYS: Final = 64


@dataclass(frozen=True)
class TrustPolicy:
    """A validated trust policy. Raises ``PolicyError`` when built inconsistent."""

    origin: str
    checkpoint_key: note.Verifier
    platform_keys: tuple[bytes, ...]
    node: str
    validators: tuple[note.Verifier, ...]
    threshold: int

    def __post_init__(self) -> None:
        if self.checkpoint_key.alg != note.ALG_ED25519 or self.checkpoint_key.name != self.origin:
            raise PolicyError("checkpoint key: an Ed25519 note key named after the origin")
        if not 1 <= len(self.platform_keys) <= MAX_PLATFORM_KEYS or any(
            not isinstance(k, bytes) or len(k) != 32 for k in self.platform_keys
        ):
            raise PolicyError("platform keys: 1 or more 32-byte Ed25519 public keys")
        if not 1 <= len(self.validators) <= MAX_VALIDATORS:
            raise PolicyError(f"validators: 1 to {MAX_VALIDATORS}")
        if any(v.alg != note.ALG_COSIGNATURE_V1 for v in self.validators):
            raise PolicyError("validators: cosignature/v1 verifier keys")
        if len({v.name for v in self.validators}) != len(self.validators):
            raise PolicyError("validators: names must be distinct")
        if (
            not isinstance(self.threshold, int)
            or isinstance(self.threshold, bool)
            or not 1 <= self.threshold <= len(self.validators)
        ):
            raise PolicyError(f"threshold: 1 to {len(self.validators)} (k of n)")
        if not self.node or any(ch.isspace() for ch in self.node) or len(self.node) > 200:
            raise PolicyError("anchor node name: a non-empty word")

    def platform_key_ids(self) -> frozenset[bytes]:
        """Key ids (docs/FORMAT.md §3) of the pinned platform keys, for ``verify_chain``."""
        from ledger.domain.signer import key_id_of

        return frozenset(key_id_of(k) for k in self.platform_keys)

    def block_verifiers(self) -> tuple[note.Verifier, ...]:
        """The validators' signed-note (type 0x01) verifiers, for block headers."""
        out = []
        for v in self.validators:
            signer_id = note.Verifier(
                v.name,
                _key_id(v.name, note.ALG_ED25519, v.public_key),
                note.ALG_ED25519,
                v.public_key,
            )
            out.append(signer_id)
        return tuple(out)

    def as_json_value(self) -> dict[str, Any]:
        return {
            "format": POLICY_FORMAT,
            "ledger": {
                "origin": self.origin,
                "checkpoint_key": self.checkpoint_key.to_key(),
                "platform_keys": [k.hex() for k in self.platform_keys],
            },
            "anchor_node": {
                "name": self.node,
                "validators": [v.to_key() for v in self.validators],
                "threshold": self.threshold,
            },
        }

    def to_json(self) -> bytes:
        """Human-readable JSON (indented, sorted keys, trailing newline)."""
        text = json.dumps(self.as_json_value(), indent=1, sort_keys=True, ensure_ascii=False)
        return (text + "\n").encode("utf-8")


def _key_id(name: str, alg: int, public_key: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _fields(obj: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != names:
        raise PolicyError(f"{what}: expected exactly the fields {sorted(names)}")
    return obj


def _hex32(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 64 or value != value.lower():
        raise PolicyError("platform key: 64 lower-case hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise PolicyError("platform key: not hex") from exc


def _verifier(text: Any) -> note.Verifier:
    """A verifier key in its one canonical spelling (lower-case hex key ID)."""
    if not isinstance(text, str):
        raise PolicyError("a verifier key is a string")
    verifier = note.Verifier.from_key(text)
    if verifier.to_key() != text:
        raise PolicyError(f"verifier key {text[:40]!r} is not in canonical form")
    return verifier


def policy_from_value(value: Any) -> TrustPolicy:
    """Build a policy from its parsed JSON value. Raises ``PolicyError``."""
    top = _fields(value, {"format", "ledger", "anchor_node"}, "policy")
    if top["format"] != POLICY_FORMAT:
        raise PolicyError(f"policy: format is not {POLICY_FORMAT}")
    ledger = _fields(top["ledger"], {"origin", "checkpoint_key", "platform_keys"}, "policy.ledger")
    node = _fields(top["anchor_node"], {"name", "validators", "threshold"}, "policy.anchor_node")
    if not isinstance(ledger["platform_keys"], list) or not isinstance(node["validators"], list):
        raise PolicyError("policy: platform_keys and validators are lists")
    if not isinstance(ledger["origin"], str) or not isinstance(node["name"], str):
        raise PolicyError("policy: origin and name are strings")
    if len(node["validators"]) > MAX_VALIDATORS:
        raise PolicyError(f"validators: at most {MAX_VALIDATORS}")
    if len(ledger["platform_keys"]) > MAX_PLATFORM_KEYS:
        raise PolicyError(f"platform keys: at most {MAX_PLATFORM_KEYS}")
    try:
        return TrustPolicy(
            origin=ledger["origin"],
            checkpoint_key=_verifier(ledger["checkpoint_key"]),
            platform_keys=tuple(_hex32(k) for k in ledger["platform_keys"]),
            node=node["name"],
            validators=tuple(_verifier(v) for v in node["validators"]),
            threshold=node["threshold"],
        )
    except note.NoteError as exc:
        raise PolicyError(f"policy: {exc}") from exc


def parse_policy(data: bytes | str) -> TrustPolicy:
    """Parse a trust policy file. Raises ``PolicyError`` for anything malformed."""
    return policy_from_value(
        load_json(data, limit=MAX_POLICY_BYTES, error=PolicyError, what="policy")
    )
