"""Trust policies with history, offline: parsing, fingerprints, supersession statements, and the
``AnchorLog.Configured`` record. Pure values, no database."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from anchors import note
from anchors.checkpoints import checkpoint_signer, ledger_origin
from anchors.errors import PolicyError
from anchors.policy import AnchorConfig, TrustPolicy, parse_fingerprint, parse_policy
from anchors.supersession import (
    STATEMENT_HEADER,
    SupersessionError,
    sign_supersession,
    statement_text,
    supersede,
    verify_supersessions,
)
from ledger.domain.anchoring import AnchorLog

ORIGIN = ledger_origin("testcity", bytes(range(32)))


def _validators(n: int = 4, tag: str = "a") -> tuple[note.Signer, ...]:
    return tuple(
        note.Signer.from_key(note.generate_signer(f"v{i}-{tag}.node.example")[0]) for i in range(n)
    )


def _policy(ckpt: note.Signer, validators: tuple[note.Signer, ...], k: int = 3) -> TrustPolicy:
    return TrustPolicy(
        ORIGIN,
        ckpt.verifier(),
        (bytes(range(32)),),
        "node.example",
        tuple(v.cosignature_verifier() for v in validators),
        k,
    )


@pytest.fixture
def history() -> tuple[TrustPolicy, TrustPolicy, TrustPolicy, note.Signer]:
    """P1 → P2 (validators rotated at size 10) → P3 (k raised to 4 at size 20)."""
    ckpt = checkpoint_signer(ORIGIN, os.urandom(32))
    p1 = _policy(ckpt, _validators(tag="a"))
    rotated = _validators(tag="b")
    p2 = supersede(p1, _policy(ckpt, rotated), 10, [ckpt])
    p3 = supersede(p2, _policy(ckpt, rotated, k=4), 20, [ckpt])
    return p1, p2, p3, ckpt


def test_a_policy_with_history_round_trips_and_verifies(
    history: tuple[TrustPolicy, TrustPolicy, TrustPolicy, note.Signer],
) -> None:
    p1, _, p3, _ = history
    assert parse_policy(p3.to_json()) == p3
    assert [s.last_size for s in p3.supersedes] == [10, 20]
    assert p3.supersedes[0].config == p1.anchor_config()
    assert verify_supersessions(p3) == 2
    assert verify_supersessions(p1) == 0
    # sizes pick configurations: (..10] the first, (10..20] the second, above 20 the current
    assert [p3.epoch_of(n) for n in (1, 10, 11, 20, 21, 10**9)] == [0, 0, 1, 1, 2, 2]
    assert p3.for_size(5).validators == p1.validators and p3.for_size(5).supersedes == ()
    assert p3.for_size(15).threshold == 3 and p3.for_size(25).threshold == 4


def test_a_policy_without_history_keeps_its_old_bytes(
    history: tuple[TrustPolicy, TrustPolicy, TrustPolicy, note.Signer],
) -> None:
    p1 = history[0]
    assert "supersedes" not in json.loads(p1.to_json())


def test_the_fingerprint_covers_the_meaning_not_the_layout(
    history: tuple[TrustPolicy, TrustPolicy, TrustPolicy, note.Signer],
) -> None:
    p1, p2, p3, _ = history
    compact = json.dumps(json.loads(p3.to_json()), separators=(",", ":"))
    assert parse_policy(compact).fingerprint() == p3.fingerprint()
    assert len({p1.fingerprint(), p2.fingerprint(), p3.fingerprint()}) == 3
    text = p3.fingerprint_text()
    assert text.startswith("sha256:") and len(text) == 7 + 64
    for typed in (text, text[7:].upper(), " ".join(text[7:][i : i + 4] for i in range(0, 64, 4))):
        assert parse_fingerprint(typed) == p3.fingerprint()
    for bad in ("sha256:", "sha256:" + "g" * 64, text[:-1], "md5:" + text[7:]):
        with pytest.raises(PolicyError):
            parse_fingerprint(bad)


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.update(supersedes=[]),
        lambda v: v.update(supersedes={}),
        lambda v: v["supersedes"][0].update(last_size=-1),
        lambda v: v["supersedes"][0].update(last_size=True),
        lambda v: v["supersedes"][0].update(last_size=25),  # not increasing
        lambda v: v["supersedes"][0].update(extra=1),
        lambda v: v["supersedes"][0].update(statement=7),
        lambda v: v["supersedes"][0]["anchor_node"].update(threshold=9),
        lambda v: v["supersedes"][0]["ledger"].update(checkpoint_key="x+1+AA=="),
        lambda v: v["supersedes"].append(v["supersedes"][0]),
        lambda v: v["supersedes"].__setitem__(  # a configuration superseded by itself
            1,
            dict(
                v["supersedes"][1],
                anchor_node=v["anchor_node"],
                ledger=v["supersedes"][0]["ledger"],
            ),
        ),
    ],
)
def test_a_malformed_history_is_refused(
    history: tuple[TrustPolicy, TrustPolicy, TrustPolicy, note.Signer], change: object
) -> None:
    value = json.loads(history[2].to_json())
    change(value)  # type: ignore[operator]
    with pytest.raises(PolicyError):
        parse_policy(json.dumps(value))


def test_statements_bind_both_configurations_the_size_and_the_order(
    history: tuple[TrustPolicy, TrustPolicy, TrustPolicy, note.Signer],
) -> None:
    _, _, p3, ckpt = history
    first, second = p3.supersedes
    # swapped statements, each genuinely signed by the checkpoint key
    swapped = replace(
        p3,
        supersedes=(
            replace(first, statement=second.statement),
            replace(second, statement=first.statement),
        ),
    )
    with pytest.raises(SupersessionError, match="supersedes\\[0\\]"):
        verify_supersessions(swapped)
    # a statement made for another new configuration
    other = sign_supersession(
        first.config, _policy(ckpt, _validators(tag="c")).anchor_config(), 10, [ckpt]
    )
    with pytest.raises(SupersessionError, match="the signed statement says"):
        verify_supersessions(replace(p3, supersedes=(replace(first, statement=other), second)))
    # signed by a key that merely carries the origin's name
    impostor = checkpoint_signer(ORIGIN, os.urandom(32))
    text = statement_text(first.config, second.config, first.last_size)
    with pytest.raises(SupersessionError, match="not signed by"):
        verify_supersessions(
            replace(
                p3, supersedes=(replace(first, statement=note.sign_note(text, [impostor])), second)
            )
        )


def test_a_new_checkpoint_key_must_sign_its_takeover_too() -> None:
    old_key, new_key = (checkpoint_signer(ORIGIN, os.urandom(32)) for _ in range(2))
    validators = _validators()
    p1, p2 = _policy(old_key, validators), _policy(new_key, validators)
    with pytest.raises(SupersessionError, match="needs the signature"):
        supersede(p1, p2, 5, [old_key])
    both = supersede(p1, p2, 5, [old_key, new_key])
    assert verify_supersessions(both) == 1
    text = statement_text(p1.anchor_config(), p2.anchor_config(), 5)
    only_old = replace(
        both, supersedes=(replace(both.supersedes[0], statement=note.sign_note(text, [old_key])),)
    )
    with pytest.raises(SupersessionError, match="no signature of"):
        verify_supersessions(only_old)


def test_supersede_refuses_what_would_not_be_a_change(
    history: tuple[TrustPolicy, TrustPolicy, TrustPolicy, note.Signer],
) -> None:
    p1, p2, _, ckpt = history
    with pytest.raises(SupersessionError, match="did not change"):
        supersede(p1, p1, 10, [ckpt])
    with pytest.raises(SupersessionError, match="not above"):
        supersede(p2, _policy(ckpt, _validators(tag="d")), 10, [ckpt])


def test_a_statement_can_never_pass_for_a_checkpoint() -> None:
    """One key signs both; the first two lines keep the two kinds of text apart."""
    config = _policy(checkpoint_signer(ORIGIN, bytes(32)), _validators()).anchor_config()
    text = statement_text(config, replace(config, threshold=4), 7)
    assert text.startswith(STATEMENT_HEADER + "\n")
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(text)


def test_anchor_configs_compare_validator_sets_not_their_order() -> None:
    config = _policy(checkpoint_signer(ORIGIN, bytes(32)), _validators()).anchor_config()
    reordered = AnchorConfig(
        config.origin, config.checkpoint_key, config.node, config.validators[::-1], config.threshold
    )
    assert reordered.fingerprint() == config.fingerprint()
    assert reordered.same_keys(config)
    assert replace(config, threshold=2).fingerprint() != config.fingerprint()


def test_the_anchor_log_records_a_configuration_only_when_it_changes() -> None:
    log = AnchorLog(origin="o.example/log", checkpoint_key="k")
    assert log.configure("k", "node", ["v1", "v2", "v3"], 2)
    assert not log.configure("k", "node", ["v3", "v1", "v2"], 2)  # same set, other order
    assert log.configure("k", "node", ["v1", "v2", "v3"], 3)
    events = [type(e).__name__ for e in log.collect_events()]
    assert events == ["Opened", "Configured", "Configured"]
    assert (log.node, log.validators, log.threshold) == ("node", ["v1", "v2", "v3"], 3)
    for bad in (
        ("k", "node", [], 1),
        ("k", "node", ["v1", "v1"], 1),
        ("k", "node", ["v1"], 2),
        ("k", "node", ["v1"], 0),
        ("", "node", ["v1"], 1),
        ("k", "", ["v1"], 1),
    ):
        with pytest.raises(ValueError):
            log.configure(*bad)


def _cosigner(name: str, public_key: bytes) -> note.Verifier:
    import hashlib

    alg = note.ALG_COSIGNATURE_V1
    key_id = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]
    return note.Verifier(name, key_id, alg, public_key)


def test_one_key_cannot_count_twice_nor_the_ledger_cosign_itself() -> None:
    ckpt = checkpoint_signer(ORIGIN, bytes(32))
    good = _policy(ckpt, _validators())
    twice = _cosigner("v9.node.example", good.validators[0].public_key)
    with pytest.raises(PolicyError, match="keys must be distinct"):
        replace(good, validators=(*good.validators, twice))
    itself = _cosigner("ledger.node.example", ckpt.verifier().public_key)
    with pytest.raises(PolicyError, match="cannot cosign itself"):
        replace(good, validators=(*good.validators[:3], itself))
