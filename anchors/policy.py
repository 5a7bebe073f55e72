"""The trust policy: which keys an auditor trusts, and how many validators must agree.

Layer: anchors (pure; parses untrusted JSON into a frozen, validated value).
Format (docs/ANCHORING.md §4), a JSON object of at most ``MAX_POLICY_BYTES``::

    {"format": "caseledger-trust-policy/v1",
     "ledger": {"origin": "<log origin>",
                "checkpoint_key": "<C2SP signed-note verifier key, name = origin>",
                "platform_keys": ["<hex Ed25519 public key>", ...]},
     "anchor_node": {"name": "<node name>",
                     "validators": ["<C2SP cosignature/v1 verifier key>", ...],
                     "threshold": k},
     "supersedes": [<supersession>, ...]}          (only when the configuration changed)

``ledger.checkpoint_key`` with ``anchor_node`` is the policy's current *anchor configuration*
(:class:`AnchorConfig`). ``supersedes`` lists, oldest first, the configurations the log was
anchored under before, each with the largest checkpoint size it anchored and a statement, signed
by that configuration's checkpoint key, that the next configuration replaces it
(``anchors.supersession`` checks the signatures; TUF's "the old root signs the new one")::

    {"ledger": {"checkpoint_key": "<verifier key>"},
     "anchor_node": {"name": ..., "validators": [...], "threshold": k},
     "last_size": <largest checkpoint size anchored under it>,
     "statement": "<C2SP signed note, docs/ANCHORING.md §4.2>"}

A checkpoint of size ``n`` is checked under the first configuration whose ``last_size`` is at
least ``n``, else under the current one (:meth:`TrustPolicy.for_size`).

The **fingerprint** (:meth:`TrustPolicy.fingerprint`) is SHA-256 over the canonical JSON
(``anchors.codec.canonical_json``) of the parsed policy, so re-indenting a file keeps it; an
auditor pins it (docs/ANCHORING.md §4.3). A validator's block-header signatures are ordinary
signed-note Ed25519 signatures by the same key under the same name (type 0x01 key ID), derived
by :meth:`TrustPolicy.block_verifiers`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, replace
from typing import Any, Final

from anchors import note
from anchors.codec import canonical_json, load_json
from anchors.errors import PolicyError

__all__ = [
    "ANCHOR_CONFIG_FORMAT",
    "MAX_POLICY_BYTES",
    "POLICY_FORMAT",
    "AnchorConfig",
    "Supersession",
    "TrustPolicy",
    "parse_fingerprint",
    "parse_policy",
    "policy_from_value",
]

POLICY_FORMAT: Final = "caseledger-trust-policy/v1"
ANCHOR_CONFIG_FORMAT: Final = "caseledger-anchor-config/v1"
"""Domain separator inside the canonical bytes an anchor configuration's fingerprint covers."""
MAX_POLICY_BYTES: Final = 64 * 1024
MAX_VALIDATORS: Final = 64
MAX_PLATFORM_KEYS: Final = 64
MAX_SUPERSESSIONS: Final = 32
FINGERPRINT_PREFIX: Final = "sha256:"


def _check_threshold(threshold: Any, n: int) -> None:
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 1 <= threshold <= n:
        raise PolicyError(f"threshold: 1 to {n} (k of n)")


@dataclass(frozen=True)
class AnchorConfig:
    """What one anchoring configuration trusts: the ledger's checkpoint key and k of n validators.

    It is what the chain records in ``AnchorLog.Configured`` and what a policy's current
    configuration and each superseded one are. Raises ``PolicyError`` when built inconsistent.
    """

    origin: str
    checkpoint_key: note.Verifier
    node: str
    validators: tuple[note.Verifier, ...]
    threshold: int

    def __post_init__(self) -> None:
        if self.checkpoint_key.alg != note.ALG_ED25519 or self.checkpoint_key.name != self.origin:
            raise PolicyError("checkpoint key: an Ed25519 note key named after the origin")
        if not 1 <= len(self.validators) <= MAX_VALIDATORS:
            raise PolicyError(f"validators: 1 to {MAX_VALIDATORS}")
        if any(v.alg != note.ALG_COSIGNATURE_V1 for v in self.validators):
            raise PolicyError("validators: cosignature/v1 verifier keys")
        if len({v.name for v in self.validators}) != len(self.validators):
            raise PolicyError("validators: names must be distinct")
        keys = {v.public_key for v in self.validators}
        if len(keys) != len(self.validators):
            raise PolicyError("validators: keys must be distinct (one key would count twice)")
        if self.checkpoint_key.public_key in keys:
            raise PolicyError("validators: the ledger's checkpoint key cannot cosign itself")
        _check_threshold(self.threshold, len(self.validators))
        if not self.node or any(ch.isspace() for ch in self.node) or len(self.node) > 200:
            raise PolicyError("anchor node name: a non-empty word")

    def validator_keys(self) -> tuple[str, ...]:
        """The validators' verifier key strings, sorted (order carries no meaning)."""
        return tuple(sorted(v.to_key() for v in self.validators))

    def same_keys(self, other: AnchorConfig) -> bool:
        """Same origin, checkpoint key, node and validator set (thresholds not compared)."""
        return (
            self.origin == other.origin
            and self.checkpoint_key.to_key() == other.checkpoint_key.to_key()
            and self.node == other.node
            and self.validator_keys() == other.validator_keys()
        )

    def fingerprint(self) -> bytes:
        """SHA-256 of the configuration's canonical JSON (validators sorted)."""
        return hashlib.sha256(
            canonical_json(
                {
                    "format": ANCHOR_CONFIG_FORMAT,
                    "origin": self.origin,
                    "checkpoint_key": self.checkpoint_key.to_key(),
                    "node": self.node,
                    "validators": list(self.validator_keys()),
                    "threshold": self.threshold,
                }
            )
        ).digest()

    def describe(self) -> str:
        return (
            f"checkpoint key {self.checkpoint_key.to_key()[:60]}…, node {self.node}, "
            f"k={self.threshold} of {len(self.validators)} validators "
            f"({', '.join(v.name for v in self.validators)})"
        )

    def node_value(self) -> dict[str, Any]:
        return {
            "name": self.node,
            "validators": [v.to_key() for v in self.validators],
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class Supersession:
    """A configuration the log was anchored under before, up to ``last_size``, and the signed
    statement that the next configuration replaces it (verified by ``anchors.supersession``)."""

    config: AnchorConfig
    last_size: int
    statement: str

    def __post_init__(self) -> None:
        if (
            not isinstance(self.last_size, int)
            or isinstance(self.last_size, bool)
            or not 0 <= self.last_size < 2**63
        ):
            raise PolicyError("supersedes: last_size is a tree size (0 or more)")
        if not isinstance(self.statement, str) or not 0 < len(self.statement) <= 4096:
            raise PolicyError("supersedes: statement is a signed note of at most 4096 characters")

    def as_json_value(self) -> dict[str, Any]:
        return {
            "ledger": {"checkpoint_key": self.config.checkpoint_key.to_key()},
            "anchor_node": self.config.node_value(),
            "last_size": self.last_size,
            "statement": self.statement,
        }


@dataclass(frozen=True)
class TrustPolicy:
    """A validated trust policy. Raises ``PolicyError`` when built inconsistent.

    The flat fields are the current anchor configuration (:meth:`anchor_config`); ``supersedes``
    the earlier ones, oldest first, with strictly increasing ``last_size``.
    """

    origin: str
    checkpoint_key: note.Verifier
    platform_keys: tuple[bytes, ...]
    node: str
    validators: tuple[note.Verifier, ...]
    threshold: int
    supersedes: tuple[Supersession, ...] = ()

    def __post_init__(self) -> None:
        current = self.anchor_config()  # validates the current configuration
        if not 1 <= len(self.platform_keys) <= MAX_PLATFORM_KEYS or any(
            not isinstance(k, bytes) or len(k) != 32 for k in self.platform_keys
        ):
            raise PolicyError("platform keys: 1 or more 32-byte Ed25519 public keys")
        if len(self.supersedes) > MAX_SUPERSESSIONS:
            raise PolicyError(f"supersedes: at most {MAX_SUPERSESSIONS}")
        previous = -1
        for s in self.supersedes:
            if s.config.origin != self.origin:
                raise PolicyError("supersedes: a configuration of another origin")
            if s.last_size <= previous:
                raise PolicyError("supersedes: oldest first, last_size strictly increasing")
            previous = s.last_size
        configs = [s.config for s in self.supersedes] + [current]
        for old, new in itertools.pairwise(configs):
            if old == new:
                raise PolicyError("supersedes: a configuration superseded by itself")

    def anchor_config(self) -> AnchorConfig:
        """The current anchor configuration."""
        return AnchorConfig(
            self.origin, self.checkpoint_key, self.node, self.validators, self.threshold
        )

    def epochs(self) -> tuple[tuple[AnchorConfig, int | None], ...]:
        """Every configuration, oldest first, with the largest size it anchors (None: current)."""
        return (
            *((s.config, s.last_size) for s in self.supersedes),
            (self.anchor_config(), None),
        )

    def epoch_of(self, size: int) -> int:
        """The index (in :meth:`epochs`) of the configuration that anchors a checkpoint of
        ``size``: the first whose ``last_size`` is at least ``size``, else the current one."""
        for index, s in enumerate(self.supersedes):
            if size <= s.last_size:
                return index
        return len(self.supersedes)

    def for_epoch(self, index: int) -> TrustPolicy:
        """A policy of one configuration (no history), for verifying receipts under it."""
        if index == len(self.supersedes):
            return self if not self.supersedes else replace(self, supersedes=())
        c = self.supersedes[index].config
        return TrustPolicy(
            self.origin, c.checkpoint_key, self.platform_keys, c.node, c.validators, c.threshold
        )

    def for_size(self, size: int) -> TrustPolicy:
        """The policy to verify a checkpoint of ``size`` with (see :meth:`epoch_of`)."""
        return self.for_epoch(self.epoch_of(size))

    def fingerprint(self) -> bytes:
        """SHA-256 over the policy's canonical JSON: what an auditor pins."""
        return hashlib.sha256(canonical_json(self.as_json_value())).digest()

    def fingerprint_text(self) -> str:
        """``sha256:<64 lower-case hex digits>``, the one spelling shown and documented."""
        return FINGERPRINT_PREFIX + self.fingerprint().hex()

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
        value: dict[str, Any] = {
            "format": POLICY_FORMAT,
            "ledger": {
                "origin": self.origin,
                "checkpoint_key": self.checkpoint_key.to_key(),
                "platform_keys": [k.hex() for k in self.platform_keys],
            },
            "anchor_node": self.anchor_config().node_value(),
        }
        if self.supersedes:
            value["supersedes"] = [s.as_json_value() for s in self.supersedes]
        return value

    def to_json(self) -> bytes:
        """Human-readable JSON (indented, sorted keys, trailing newline)."""
        text = json.dumps(self.as_json_value(), indent=1, sort_keys=True, ensure_ascii=False)
        return (text + "\n").encode("utf-8")


def parse_fingerprint(text: str) -> bytes:
    """A fingerprint as an auditor may type it: ``sha256:`` optional, hex digits in any case,
    spaces, colons and hyphens between groups ignored. Raises ``PolicyError``."""
    cleaned = text.strip().lower()
    if cleaned.startswith(FINGERPRINT_PREFIX):
        cleaned = cleaned[len(FINGERPRINT_PREFIX) :]
    cleaned = "".join(ch for ch in cleaned if ch not in " :-")
    if len(cleaned) != 64 or any(ch not in "0123456789abcdef" for ch in cleaned):
        raise PolicyError("fingerprint: sha256: followed by 64 hex digits")
    return bytes.fromhex(cleaned)


def _key_id(name: str, alg: int, public_key: bytes) -> bytes:
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


def _node_fields(value: Any, what: str) -> tuple[str, tuple[note.Verifier, ...], Any]:
    node = _fields(value, {"name", "validators", "threshold"}, what)
    if not isinstance(node["validators"], list) or not isinstance(node["name"], str):
        raise PolicyError(f"{what}: name is a string and validators a list")
    if len(node["validators"]) > MAX_VALIDATORS:
        raise PolicyError(f"validators: at most {MAX_VALIDATORS}")
    return node["name"], tuple(_verifier(v) for v in node["validators"]), node["threshold"]


def _supersession(value: Any, origin: str) -> Supersession:
    s = _fields(value, {"ledger", "anchor_node", "last_size", "statement"}, "policy.supersedes[]")
    ledger = _fields(s["ledger"], {"checkpoint_key"}, "policy.supersedes[].ledger")
    name, validators, threshold = _node_fields(s["anchor_node"], "policy.supersedes[].anchor_node")
    config = AnchorConfig(origin, _verifier(ledger["checkpoint_key"]), name, validators, threshold)
    return Supersession(config, s["last_size"], s["statement"])


def policy_from_value(value: Any) -> TrustPolicy:
    """Build a policy from its parsed JSON value. Raises ``PolicyError``.

    Structure only: the supersession statements' signatures are checked by
    ``anchors.supersession.verify_supersessions`` (a forged one is a verification failure, not
    a malformed file).
    """
    if isinstance(value, dict) and "supersedes" in value:
        top = _fields(value, {"format", "ledger", "anchor_node", "supersedes"}, "policy")
        if not isinstance(top["supersedes"], list) or not top["supersedes"]:
            raise PolicyError("policy.supersedes: a non-empty list (omit it when empty)")
        if len(top["supersedes"]) > MAX_SUPERSESSIONS:
            raise PolicyError(f"supersedes: at most {MAX_SUPERSESSIONS}")
    else:
        top = _fields(value, {"format", "ledger", "anchor_node"}, "policy")
    if top["format"] != POLICY_FORMAT:
        raise PolicyError(f"policy: format is not {POLICY_FORMAT}")
    ledger = _fields(top["ledger"], {"origin", "checkpoint_key", "platform_keys"}, "policy.ledger")
    if not isinstance(ledger["platform_keys"], list):
        raise PolicyError("policy: platform_keys is a list")
    if not isinstance(ledger["origin"], str):
        raise PolicyError("policy: origin is a string")
    if len(ledger["platform_keys"]) > MAX_PLATFORM_KEYS:
        raise PolicyError(f"platform keys: at most {MAX_PLATFORM_KEYS}")
    try:
        name, validators, threshold = _node_fields(top["anchor_node"], "policy.anchor_node")
        return TrustPolicy(
            origin=ledger["origin"],
            checkpoint_key=_verifier(ledger["checkpoint_key"]),
            platform_keys=tuple(_hex32(k) for k in ledger["platform_keys"]),
            node=name,
            validators=validators,
            threshold=threshold,
            supersedes=tuple(_supersession(s, ledger["origin"]) for s in top.get("supersedes", ())),
        )
    except note.NoteError as exc:
        raise PolicyError(f"policy: {exc}") from exc


def parse_policy(data: bytes | str) -> TrustPolicy:
    """Parse a trust policy file. Raises ``PolicyError`` for anything malformed."""
    return policy_from_value(
        load_json(data, limit=MAX_POLICY_BYTES, error=PolicyError, what="policy")
    )
