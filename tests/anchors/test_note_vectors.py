"""anchors.note against every signed-note, checkpoint and cosignature vector in tests/vectors/note.

Sources: golang.org/x/mod/sumdb/note tests, the C2SP specs' examples, transparency-dev/formats
tests, the real sum.golang.org tree head, and real Sigstore Rekor v2 checkpoints cosigned by
three production witnesses.
"""

from __future__ import annotations

import base64

import nacl.signing
import pytest

from anchors import merkle, note
from anchors.note import NoteError

from .conftest import vector_files, vectors_dir

NOTE = vectors_dir("note")
SAMPLES = "c2sp_format_samples"


def read(rel: str) -> str:
    return (NOTE / rel).read_text(encoding="utf-8")


def key_lines(rel: str) -> list[str]:
    """Keys from a vkey file: one per line, '#' comments and blank lines skipped."""
    return [
        line.strip() for line in read(rel).splitlines() if line.strip() and not line.startswith("#")
    ]


def parse_derived(rel: str) -> dict[str, str]:
    """The DERIVED vector's ``key: value`` / ``key: |`` (2-space indented block) format."""
    fields: dict[str, str] = {}
    block: str | None = None
    for line in read(rel).splitlines():
        if block is not None and line.startswith("  "):
            fields[block] += line[2:] + "\n"
            continue
        block = None
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(": ")
        if value == "|":
            block, fields[key] = key, ""
        else:
            fields[key] = value
    return fields


def parse_keypairs(rel: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in key_lines(rel):
        name, vkey, skey = (part.strip() for part in line.split("|"))
        rows.append((name, vkey, skey))
    return rows


PETER_SKEY = key_lines("sumdb_note_PeterNeumann.skey")[0]
PETER_VKEY = key_lines("sumdb_note_PeterNeumann.vkey")[0]
ENOCH_VKEY = key_lines("sumdb_note_EnochRoot.vkey")[0]
SUMDB_VKEY = key_lines("sum.golang.org.vkey")[0]
EXTRA_VKEYS = key_lines("multisig_extra_verifiers.vkeys")
REKOR_VKEYS = key_lines("real_rekor_v2_alpha3_vkeys.txt")
ALPHA3_VKEYS = [k for k in REKOR_VKEYS if not k.startswith("log2025-alpha1")]
ALPHA1_VKEY = next(k for k in REKOR_VKEYS if k.startswith("log2025-alpha1"))
KEYPAIRS = parse_keypairs("test_keypairs.txt")
DERIVED = parse_derived("DERIVED_cosignature_v1_Wit1_over_sum.golang.org_6476701.txt")
TIMESTAMP_VECTOR = parse_derived("cosignature_v1_timestamp_vector.txt")

ALPHA3_NOTE = "real_rekor_v2_alpha3_checkpoint_4026479_cosigned_by_3_witnesses.note"
ALPHA3_WITNESS_TIME = 1778700214

# (note file, verifier keys, names expected to verify, in note order)
VERIFIABLE: list[tuple[str, list[str], list[str]]] = [
    ("sumdb_note_signed_PeterNeumann.note", [PETER_VKEY], ["PeterNeumann"]),
    (
        "sumdb_note_signed_PeterNeumann_EnochRoot.note",
        [PETER_VKEY, ENOCH_VKEY],
        ["PeterNeumann", "EnochRoot"],
    ),
    (
        "c2sp_signed-note_example.note",
        key_lines("c2sp_signed-note_example.vkey"),
        ["example.com/foo"],
    ),
    ("sum.golang.org_checkpoint_6476701.note", [SUMDB_VKEY], ["sum.golang.org"]),
    (
        "sum.golang.org_checkpoint_6476701_multisig.note",
        [SUMDB_VKEY, *EXTRA_VKEYS],
        ["sum.golang.org", "monkeys", "bananas", "witness"],
    ),
    (
        ALPHA3_NOTE,
        ALPHA3_VKEYS,
        [
            "log2025-alpha3.rekor.sigstage.dev",
            "witness.stagemole.eu",
            "staging.witness.transparency.goog/ring-any-bells",
            "witness.navigli.sunlight.geomys.org",
        ],
    ),
    (
        "real_rekor_v2_alpha1_checkpoint_7132.note",
        [ALPHA1_VKEY],
        ["log2025-alpha1.rekor.sigstage.dev"],
    ),
]
IDS = [case[0] for case in VERIFIABLE]


def test_every_note_vector_file_is_consumed() -> None:
    consumed = {case[0] for case in VERIFIABLE} | {
        "sumdb_note_PeterNeumann.skey",
        "sumdb_note_PeterNeumann.vkey",
        "sumdb_note_EnochRoot.vkey",
        "sumdb_note_text.txt",
        "c2sp_signed-note_example.vkey",
        "sum.golang.org.vkey",
        "multisig_extra_verifiers.vkeys",
        "real_rekor_v2_alpha3_vkeys.txt",
        "test_keypairs.txt",
        "cosignature_v1_timestamp_vector.txt",
        "sumdb_tlog_FormatTree_golden.txt",
        "DERIVED_cosignature_v1_Wit1_over_sum.golang.org_6476701.txt",
        f"{SAMPLES}/tlog-checkpoint_example.note",
        f"{SAMPLES}/tlog-cosignature_ed25519_signed_message_example.txt",
        f"{SAMPLES}/tlog-cosignature_example_cosigned_checkpoint.note",
        f"{SAMPLES}/tlog-policy_example.txt",
        f"{SAMPLES}/tlog-proof_example_ELIDED_SIGS.txt",
        f"{SAMPLES}/tlog-witness_add-checkpoint_request_example.txt",
    }
    assert vector_files("note") == consumed


# --- every verifiable note ----------------------------------------------------------------------


@pytest.mark.parametrize(("rel", "keys", "names"), VERIFIABLE, ids=IDS)
def test_note_verifies_with_its_published_keys(rel: str, keys: list[str], names: list[str]) -> None:
    assert note.verify_note(read(rel), keys) == names
    assert note.verify_note(read(rel), [note.Verifier.from_key(k) for k in keys]) == names


@pytest.mark.parametrize(("rel", "keys", "names"), VERIFIABLE, ids=IDS)
def test_each_key_alone_verifies_its_own_signature(
    rel: str, keys: list[str], names: list[str]
) -> None:
    for key in keys:
        assert note.verify_note(read(rel), [key]) == [note.Verifier.from_key(key).name]


@pytest.mark.parametrize(("rel", "keys", "names"), VERIFIABLE, ids=IDS)
def test_note_is_not_verified_by_unrelated_keys(
    rel: str, keys: list[str], names: list[str]
) -> None:
    unrelated = [vkey for _, vkey, _ in KEYPAIRS]
    assert note.verify_note(read(rel), unrelated) == []
    with pytest.raises(note.UnverifiedNoteError):
        note.open_note(read(rel), unrelated)


@pytest.mark.parametrize(("rel", "keys", "names"), VERIFIABLE, ids=IDS)
def test_note_parses_and_formats_back_byte_for_byte(
    rel: str, keys: list[str], names: list[str]
) -> None:
    parsed = note.parse_note(read(rel))
    assert parsed.format() == read(rel)
    assert len(parsed.signatures) == len(names)


@pytest.mark.parametrize(("rel", "keys", "names"), VERIFIABLE, ids=IDS)
def test_every_altered_character_is_rejected(rel: str, keys: list[str], names: list[str]) -> None:
    """Changing any one character removes at least one verified key, or makes it malformed."""
    text = read(rel)
    verifiers = [note.Verifier.from_key(k) for k in keys]
    for i, ch in enumerate(text):
        altered = text[:i] + chr(ord(ch) ^ 1) + text[i + 1 :]
        try:
            got = note.verify_note(altered, verifiers)
        except NoteError:
            continue
        assert set(got) < set(names), (i, ch, got)


@pytest.mark.parametrize(("rel", "keys", "names"), VERIFIABLE, ids=IDS)
def test_signatures_from_unknown_keys_are_ignored(
    rel: str, keys: list[str], names: list[str]
) -> None:
    text = read(rel)
    first = note.parse_note(text).signatures[0]
    stranger_skey, _ = note.generate_signer(first.name)  # same name, another key ID
    impostor = note.NoteSignature("impostor.example", first.key_id, bytes(64))  # same key ID
    with_strangers = note.add_signatures(text, [note.Signer.from_key(stranger_skey)])
    with_strangers += impostor.line()
    assert note.verify_note(with_strangers, keys) == names


def test_a_known_key_with_a_bad_signature_rejects_the_whole_note() -> None:
    """signed-note: if a known key's signature fails, clients SHOULD reject the note."""
    text = read("sum.golang.org_checkpoint_6476701_multisig.note")
    parsed = note.parse_note(text)
    bananas = parsed.signatures[2]
    assert bananas.name == "bananas"
    forged = note.NoteSignature(bananas.name, bananas.key_id, bytes(64))
    tampered = note.Note(parsed.text, (*parsed.signatures[:2], forged, parsed.signatures[3]))
    keys = [SUMDB_VKEY, *EXTRA_VKEYS]
    assert note.verify_note(tampered.format(), keys) == []
    with pytest.raises(note.InvalidSignatureError, match="bananas"):
        note.open_note(tampered.format(), keys)
    # Without the bananas key, its line is just an unknown signature.
    assert note.verify_note(tampered.format(), [SUMDB_VKEY]) == ["sum.golang.org"]


# --- golang.org/x/mod/sumdb/note ----------------------------------------------------------------


def test_sumdb_signer_key_round_trips_and_derives_its_verifier_key() -> None:
    signer = note.Signer.from_key(PETER_SKEY)
    assert signer.to_key() == PETER_SKEY
    assert signer.verifier().to_key() == PETER_VKEY
    assert PETER_SKEY.rsplit("+", 1)[1] not in repr(signer)


def test_sumdb_note_is_reproduced_byte_for_byte() -> None:
    signer = note.Signer.from_key(PETER_SKEY)
    signed = note.sign_note(read("sumdb_note_text.txt"), [signer])
    assert signed == read("sumdb_note_signed_PeterNeumann.note")


def test_adding_a_signature_replaces_the_same_keys_earlier_line() -> None:
    signer = note.Signer.from_key(PETER_SKEY)
    one = read("sumdb_note_signed_PeterNeumann.note")
    two = read("sumdb_note_signed_PeterNeumann_EnochRoot.note")
    assert note.add_signatures(one, [signer]) == one
    resigned = note.add_signatures(two, [signer])
    assert [s.name for s in note.parse_note(resigned).signatures] == ["EnochRoot", "PeterNeumann"]
    assert note.verify_note(resigned, [PETER_VKEY, ENOCH_VKEY]) == ["EnochRoot", "PeterNeumann"]


@pytest.mark.parametrize(("name", "vkey", "skey"), KEYPAIRS, ids=[row[0] for row in KEYPAIRS])
def test_published_test_key_pairs(name: str, vkey: str, skey: str) -> None:
    verifier = note.Verifier.from_key(vkey)
    assert (verifier.name, verifier.to_key()) == (name, vkey)
    if skey == "-":  # verifier keys only: one note key, one cosignature/v1 key
        assert verifier.alg == (note.ALG_COSIGNATURE_V1 if name == "remora.n621.de" else 1)
        return
    signer = note.Signer.from_key(skey)
    assert signer.verifier() == verifier
    signed = note.sign_note(f"hello from {name}\n", [signer])
    assert note.verify_note(signed, [vkey]) == [name]


# --- checkpoints --------------------------------------------------------------------------------


def test_sum_golang_org_tree_head_is_a_checkpoint_with_a_legacy_origin() -> None:
    verified = note.open_note(read("sum.golang.org_checkpoint_6476701.note"), [SUMDB_VKEY])
    checkpoint = note.parse_checkpoint(verified.text)
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == 6476701
    assert checkpoint.extensions == ()
    assert checkpoint.format() == verified.text


def test_sumdb_format_tree_golden_body() -> None:
    body = read("sumdb_tlog_FormatTree_golden.txt")
    checkpoint = note.parse_checkpoint(body)
    assert checkpoint.size == 123456789012
    assert checkpoint.root_hash == merkle.leaf_hash(b"hello world")
    assert checkpoint.format() == body


def test_rekor_v2_checkpoint_with_three_real_witness_cosignatures() -> None:
    verified = note.open_note(read(ALPHA3_NOTE), ALPHA3_VKEYS)
    log, *witnesses = verified.signatures
    assert (log.alg, log.timestamp) == (note.ALG_ED25519, None)
    assert len(witnesses) == 3
    for witness in witnesses:
        assert (witness.alg, witness.timestamp) == (note.ALG_COSIGNATURE_V1, ALPHA3_WITNESS_TIME)
    checkpoint = note.parse_checkpoint(verified.text)
    assert (checkpoint.origin, checkpoint.size) == (log.name, 4026479)


def test_rekor_v2_alpha1_checkpoint() -> None:
    verified = note.open_note(read("real_rekor_v2_alpha1_checkpoint_7132.note"), [ALPHA1_VKEY])
    checkpoint = note.parse_checkpoint(verified.text)
    assert (checkpoint.origin, checkpoint.size) == ("log2025-alpha1.rekor.sigstage.dev", 7132)


# --- cosignature/v1 -----------------------------------------------------------------------------


def test_derived_wit1_cosignature_is_reproduced_step_by_step() -> None:
    signer = note.Signer.from_key(DERIVED["cosigner_skey_type01"])
    cosigner = signer.cosignature_verifier()
    assert cosigner.to_key() == DERIVED["cosigner_vkey_type04"]
    assert cosigner.key_id.hex() == DERIVED["key_id_rule"].rsplit("= ", 1)[1]

    signed_note = read("sum.golang.org_checkpoint_6476701.note")
    body = note.open_note(signed_note, [SUMDB_VKEY]).text
    timestamp = int(DERIVED["timestamp"])
    message = note.cosignature_message(body, timestamp)
    assert message.hex() == DERIVED["signed_message_hex"]
    assert message.decode() == DERIVED["signed_message_text"]
    assert signer.sign(message).hex() == DERIVED["ed25519_signature_hex"]
    nacl.signing.VerifyKey(cosigner.public_key).verify(message, signer.sign(message))

    line = note.cosign(body, signer, timestamp)
    assert line == DERIVED["signature_line"] + "\n"
    cosigned = note.add_cosignature(signed_note, signer, timestamp)
    assert cosigned == DERIVED["cosigned_checkpoint"]
    verified = note.open_note(cosigned, [SUMDB_VKEY, cosigner])
    assert [(s.name, s.timestamp) for s in verified.signatures] == [
        ("sum.golang.org", None),
        ("Wit1", timestamp),
    ]
    # The type 0x01 key of the same witness has another key ID: its cosignature is unknown.
    assert note.verify_note(cosigned, [signer.verifier()]) == []


def test_cosignature_timestamp_is_read_from_a_76_byte_signature() -> None:
    raw = base64.b64decode(TIMESTAMP_VECTOR["sig_base64"])
    assert len(raw) == int(TIMESTAMP_VECTOR["decoded_length"])
    cosig = note.NoteSignature("w", raw[:4], raw[4:])
    assert cosig.line() == f"\u2014 w {TIMESTAMP_VECTOR['sig_base64']}\n"
    assert cosig.key_id.hex() == TIMESTAMP_VECTOR["key_id_hex"]
    assert cosig.cosignature_timestamp() == int(TIMESTAMP_VECTOR["timestamp_unix"])


def test_a_plain_signature_is_not_a_cosignature() -> None:
    raw = base64.b64decode(TIMESTAMP_VECTOR["wrong_type_sig_base64"])
    assert len(raw) == 68
    plain = note.NoteSignature("w", raw[:4], raw[4:])
    with pytest.raises(NoteError):
        plain.cosignature_timestamp()
    remora = note.Verifier.from_key(next(v for n, v, _ in KEYPAIRS if n == "remora.n621.de"))
    assert not remora.verify("any text\n", plain.signature)


# --- C2SP format samples (keys unpublished: parsed, never verified) -----------------------------


def test_c2sp_checkpoint_example_parses_but_its_signer_is_unknown() -> None:
    text = read(f"{SAMPLES}/tlog-checkpoint_example.note")
    parsed = note.parse_note(text)
    checkpoint = note.parse_checkpoint(parsed.text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert [s.name for s in parsed.signatures] == ["example.com/behind-the-sofa"]
    assert note.verify_note(text, [SUMDB_VKEY]) == []


def test_c2sp_cosignature_example_signs_the_sample_message() -> None:
    cosigned = note.parse_note(read(f"{SAMPLES}/tlog-cosignature_example_cosigned_checkpoint.note"))
    log, witness = cosigned.signatures
    assert witness.name == "witness.example.com/w1"
    timestamp = witness.cosignature_timestamp()
    assert timestamp == 1679315147
    sample = read(f"{SAMPLES}/tlog-cosignature_ed25519_signed_message_example.txt")
    assert note.cosignature_message(cosigned.text, timestamp) == sample.encode()
    with pytest.raises(NoteError):
        log.cosignature_timestamp()  # the log's plain Ed25519 signature has no timestamp


def test_c2sp_witness_request_example_carries_a_proof_and_a_checkpoint() -> None:
    request = read(f"{SAMPLES}/tlog-witness_add-checkpoint_request_example.txt")
    head, _, signed_checkpoint = request.partition("\n\n")
    old_line, *proof_lines = head.split("\n")
    old_size = int(old_line.removeprefix("old "))
    proof = [base64.b64decode(p) for p in proof_lines]
    assert all(len(p) == merkle.HASH_SIZE for p in proof)
    parsed = note.parse_note(signed_checkpoint)
    checkpoint = note.parse_checkpoint(parsed.text)
    assert old_size < checkpoint.size
    assert {s.name for s in parsed.signatures} == {checkpoint.origin}
    assert len({s.key_id for s in parsed.signatures}) == 2  # one origin, two keys
    # The request does not carry the old root: no old root we can invent is consistent.
    guess = merkle.leaf_hash(b"guess")
    assert not merkle.verify_consistency(
        old_size, checkpoint.size, guess, checkpoint.root_hash, proof
    )


def test_c2sp_tlog_proof_example_with_elided_signatures_is_not_a_valid_note() -> None:
    proof_text = read(f"{SAMPLES}/tlog-proof_example_ELIDED_SIGS.txt")
    head, _, signed_checkpoint = proof_text.partition("\n\n")
    assert head.startswith("c2sp.org/tlog-proof@v1\n")
    index = int(next(line for line in head.split("\n") if line.startswith("index ")).split()[1])
    hashes = [base64.b64decode(line) for line in head.split("\n")[3:]]
    assert all(len(h) == merkle.HASH_SIZE for h in hashes)
    with pytest.raises(NoteError):  # "hI2DJw[...]1roloI=" is not base64
        note.parse_note(signed_checkpoint)
    body = signed_checkpoint[: signed_checkpoint.rindex("\n\n") + 1]
    checkpoint = note.parse_checkpoint(body)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/fancylog", 109482)
    assert 0 <= index < checkpoint.size


def test_c2sp_policy_example_is_neither_a_note_nor_a_key_list() -> None:
    """A tlog-policy file (parsed elsewhere): its ``<vkey>`` placeholders are not keys."""
    policy = read(f"{SAMPLES}/tlog-policy_example.txt")
    with pytest.raises(NoteError):
        note.parse_note(policy)
    placeholders = [line.split()[-1] for line in policy.splitlines() if line.endswith("<vkey>")]
    assert len(placeholders) == 7
    for placeholder in placeholders:
        with pytest.raises(NoteError):
            note.Verifier.from_key(placeholder)
