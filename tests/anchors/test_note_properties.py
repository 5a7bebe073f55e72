"""anchors.note on malformed and random input, and round trips of everything it writes."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchors import merkle, note
from anchors.note import NoteError

SKEY, VKEY = note.generate_signer("log.example/test")
SIGNER = note.Signer.from_key(SKEY)
WITNESS = note.Signer.from_key(note.generate_signer("witness.example/w1")[0])
ROOT = merkle.leaf_hash(b"root")
CHECKPOINT = note.Checkpoint("log.example/test", 42, ROOT)
SIGNED = note.sign_note(CHECKPOINT.format(), [SIGNER])


# --- malformed notes raise NoteError and nothing else -----------------------------------------

SIG_LINE = SIGNED[SIGNED.rindex("\n\n") + 2 :]
MALFORMED_NOTES = {
    "not a str": b"text\n\n\xe2\x80\x94 a AAAAAAA=\n",
    "no blank line": "text\n" + SIG_LINE,
    "no signature": CHECKPOINT.format() + "\n",
    "no final newline": SIGNED[:-1],
    "carriage return": SIGNED.replace("\n", "\r\n"),
    "control character": SIGNED.replace("log", "l\x00g", 1),
    "lone surrogate": SIGNED.replace("log", "l\ud800g", 1),
    "hyphen not em dash": SIGNED.replace("\u2014", "-"),
    "no space after dash": SIGNED.replace("\u2014 ", "\u2014"),
    "plus in name": SIGNED.replace(" log.example/test ", " log+example "),
    "empty name": SIGNED.replace(" log.example/test ", "  "),
    "two spaces": SIGNED.replace(" log.example/test ", " log.example/test  "),
    "signature too short": CHECKPOINT.format() + "\n\u2014 a AAAAAA==\n",
    "not base64": SIGNED[:-3] + "*=\n",
    "non-canonical base64": CHECKPOINT.format() + "\n\u2014 a AAAAAAB=\n",
    "missing padding": SIGNED.rstrip("=\n") + "\n",
    "too many signatures": CHECKPOINT.format() + "\n" + SIG_LINE * (note.MAX_SIGNATURES + 1),
    "too long": "x" * note.MAX_NOTE_BYTES + "\n\n" + SIG_LINE,
}


@pytest.mark.parametrize("text", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_note_raises_note_error(text: str) -> None:
    with pytest.raises(NoteError):
        note.parse_note(text)
    with pytest.raises(NoteError):
        note.verify_note(text, [VKEY])


def test_sixteen_signatures_are_accepted() -> None:
    """signed-note: verifiers MUST accept at least 16 signatures."""
    signers = [note.Signer.from_key(note.generate_signer(f"w{i}")[0]) for i in range(16)]
    signed = note.sign_note(CHECKPOINT.format(), signers)
    keys = [s.verifier() for s in signers]
    assert note.verify_note(signed, keys) == [s.name for s in signers]


def test_a_note_text_may_contain_blank_lines() -> None:
    text = "first\n\nsecond\n\n"
    signed = note.sign_note(text, [SIGNER])
    assert note.open_note(signed, [VKEY]).text == text


@pytest.mark.parametrize(
    "keys",
    [VKEY, None, 42, [42], [b"bytes"], ["no-plus-signs"], [VKEY.replace("+", "+x", 1)]],
    ids=["single string", "None", "int", "int key", "bytes key", "no plus", "bad key id"],
)
def test_malformed_verifier_keys_raise_note_error(keys: object) -> None:
    with pytest.raises(NoteError):
        note.verify_note(SIGNED, keys)  # type: ignore[arg-type]


def test_two_different_keys_with_one_name_and_key_id_are_ambiguous() -> None:
    real = SIGNER.verifier()
    # Same (name, key ID) but another public key cannot be built: the key ID is checked.
    with pytest.raises(NoteError):
        note.Verifier(real.name, real.key_id, real.alg, bytes(32))
    assert note.verify_note(SIGNED, [real, real, VKEY]) == [real.name]


MALFORMED_VKEYS = [
    "",
    "name",
    "name+1234567+AQ==",
    "name+0x123456+" + VKEY.rsplit("+", 1)[1],
    "bad name+" + VKEY.split("+", 1)[1],
    VKEY.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x09" + bytes(32)).decode(),
    VKEY.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x01" + bytes(31)).decode(),
    VKEY.rsplit("+", 1)[0] + "+AQ",
    VKEY + "A" * note.MAX_KEY_BYTES,
]


@pytest.mark.parametrize("vkey", MALFORMED_VKEYS)
def test_malformed_verifier_key_string_raises_note_error(vkey: str) -> None:
    with pytest.raises(NoteError):
        note.Verifier.from_key(vkey)


@pytest.mark.parametrize(
    "skey",
    [
        VKEY,
        "PRIVATE+KEY+" + VKEY,
        SKEY.replace("PRIVATE+KEY", "PUBLIC+KEY"),
        SKEY[:-4] + "AAA=",
        SKEY.replace(SIGNER.key_id.hex(), "00000000"),
    ],
    ids=["vkey", "vkey material", "not private", "wrong length", "wrong key id"],
)
def test_malformed_signer_key_raises_note_error(skey: str) -> None:
    with pytest.raises(NoteError):
        note.Signer.from_key(skey)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_random_text_never_raises_anything_but_note_error(text: str) -> None:
    with contextlib.suppress(NoteError):
        assert note.verify_note(text, [VKEY]) == []


@settings(max_examples=300)
@given(st.data())
def test_mutated_signed_notes_never_raise_anything_but_note_error(data: st.DataObject) -> None:
    cosigned = note.add_cosignature(SIGNED, WITNESS, 1_700_000_000)
    i = data.draw(st.integers(min_value=0, max_value=len(cosigned) - 1))
    insert = data.draw(st.text(max_size=3))
    mutated = cosigned[:i] + insert + cosigned[i + 1 :]
    keys: list[str | note.Verifier] = [VKEY, WITNESS.cosignature_verifier()]
    try:
        got = note.verify_note(mutated, keys)
    except NoteError:
        return
    if mutated != cosigned:
        assert got != [SIGNER.name, WITNESS.name]


# --- checkpoints --------------------------------------------------------------------------------

MALFORMED_CHECKPOINTS = {
    "two lines": "origin\n1\n",
    "empty origin": "\n1\n" + base64.b64encode(ROOT).decode() + "\n",
    "leading zero": "o\n01\n" + base64.b64encode(ROOT).decode() + "\n",
    "signed size": "o\n+1\n" + base64.b64encode(ROOT).decode() + "\n",
    "non-ascii digit": "o\n\u0661\n" + base64.b64encode(ROOT).decode() + "\n",
    "underscore": "o\n1_0\n" + base64.b64encode(ROOT).decode() + "\n",
    "size over uint64": f"o\n{2**64}\n" + base64.b64encode(ROOT).decode() + "\n",
    "short root": "o\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n",
    "root not base64": "o\n1\n" + "!" * 44 + "\n",
    "empty extension": "o\n1\n" + base64.b64encode(ROOT).decode() + "\n\n",
    "no final newline": "o\n1\n" + base64.b64encode(ROOT).decode(),
    "too many extensions": "o\n1\n"
    + base64.b64encode(ROOT).decode()
    + "\n"
    + "ext\n" * (note.MAX_CHECKPOINT_EXTENSION_LINES + 1),
    "not a str": b"o\n1\nroot\n",
}


@pytest.mark.parametrize("body", MALFORMED_CHECKPOINTS.values(), ids=MALFORMED_CHECKPOINTS.keys())
def test_malformed_checkpoint_raises_note_error(body: str) -> None:
    with pytest.raises(NoteError):
        note.parse_checkpoint(body)


lines = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF, exclude_characters="\n"),
    min_size=1,
    max_size=30,
)


@given(
    lines,
    st.integers(min_value=0, max_value=2**64 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(lines, max_size=4),
)
def test_checkpoint_round_trips(origin: str, size: int, root: bytes, ext: list[str]) -> None:
    checkpoint = note.Checkpoint(origin, size, root, tuple(ext))
    assert note.parse_checkpoint(checkpoint.format()) == checkpoint


def test_checkpoint_refuses_impossible_values() -> None:
    for args in [("", 1, ROOT), ("o", -1, ROOT), ("o", True, ROOT), ("o", 1, ROOT[:5])]:
        with pytest.raises(NoteError):
            note.Checkpoint(*args)
    with pytest.raises(NoteError):
        note.Checkpoint("o", 1, ROOT, ("two\nlines",))


# --- signing round trips --------------------------------------------------------------------------


@given(st.lists(lines, min_size=1, max_size=5))
def test_any_signed_text_verifies(text_lines: list[str]) -> None:
    text = "".join(line + "\n" for line in text_lines)
    signed = note.sign_note(text, [SIGNER])
    verified = note.open_note(signed, [VKEY])
    assert (verified.text, verified.names) == (text, [SIGNER.name])


@given(st.integers(min_value=0, max_value=note.MAX_TIMESTAMP))
def test_any_timestamp_cosigns_and_verifies(timestamp: int) -> None:
    cosigned = note.add_cosignature(SIGNED, WITNESS, timestamp)
    verified = note.open_note(cosigned, [VKEY, WITNESS.cosignature_verifier()])
    assert [(s.name, s.timestamp) for s in verified.signatures] == [
        (SIGNER.name, None),
        (WITNESS.name, timestamp),
    ]


def test_a_new_cosignature_replaces_the_witness_earlier_one() -> None:
    once = note.add_cosignature(SIGNED, WITNESS, 1)
    twice = note.add_cosignature(once, WITNESS, 2)
    assert twice == note.add_cosignature(SIGNED, WITNESS, 2)


@pytest.mark.parametrize("timestamp", [-1, 2**63, True, 1.5, None])
def test_cosign_refuses_impossible_timestamps(timestamp: object) -> None:
    with pytest.raises(NoteError):
        note.cosign(CHECKPOINT.format(), WITNESS, timestamp)  # type: ignore[arg-type]


def test_cosign_refuses_text_that_is_not_a_checkpoint() -> None:
    with pytest.raises(NoteError):
        note.cosign("just a note\n", WITNESS, 1)
    with pytest.raises(NoteError):
        note.cosign(SIGNED, WITNESS, 1)  # the signed note, not its text


def test_a_cosignature_with_a_timestamp_above_2_63_is_invalid() -> None:
    cosigner = WITNESS.cosignature_verifier()
    message = CHECKPOINT.format()
    sig = WITNESS.sign(f"cosignature/v1\ntime {2**63}\n".encode() + message.encode())
    assert not cosigner.verify(message, (2**63).to_bytes(8, "big") + sig)


def test_sign_note_refuses_bad_text_and_no_signers() -> None:
    for text in ["no newline", "", "ctrl\x07\n"]:
        with pytest.raises(NoteError):
            note.sign_note(text, [SIGNER])
    with pytest.raises(NoteError):
        note.sign_note("text\n", [])


def test_generate_signer_gives_a_matching_key_pair() -> None:
    skey, vkey = note.generate_signer("example.com/log")
    signer = note.Signer.from_key(skey)
    assert signer.verifier().to_key() == vkey
    assert skey.startswith("PRIVATE+KEY+example.com/log+")
    with pytest.raises(NoteError):
        note.generate_signer("has space")
