"""The keystore: private keys sealed on disk, never in the database, files 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ledger.chain.signing import Ed25519Signer
from ledger.errors import KeystoreError
from ledger.storage.keystore import GENERATION_FILE, Keystore

PASS = "correct horse battery staple"


def test_keys_are_sealed_in_private_files(tmp_path: Path) -> None:
    store = Keystore.create(tmp_path / "keys", PASS)
    signer = Ed25519Signer.generate("dept:A")
    store.add(signer, actor="dept:A", role="department", department="A")
    files = list((tmp_path / "keys").iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for f in files:
        assert signer.seed.hex() not in f.read_text()
    again = Keystore.open(tmp_path / "keys", PASS)
    assert again.signer(signer.key_id).public_key == signer.public_key
    assert again.current_signer("dept:A").key_id == signer.key_id


def test_a_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    Keystore.create(tmp_path / "keys", PASS)
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        Keystore.open(tmp_path / "keys", PASS + "!")


def test_a_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="at least 12"):
        Keystore.create(tmp_path / "keys", "short")


def test_a_retired_key_is_not_current_but_still_signs_old_material(tmp_path: Path) -> None:
    store = Keystore.create(tmp_path / "keys", PASS)
    old, new = Ed25519Signer.generate(), Ed25519Signer.generate()
    store.add(old, actor="kiosk:1", role="kiosk")
    store.add(new, actor="kiosk:1", role="kiosk")
    store.retire(old.key_id)
    assert store.current_signer("kiosk:1").key_id == new.key_id
    assert store.signer(old.key_id).key_id == old.key_id


def test_a_swapped_key_file_is_detected(tmp_path: Path) -> None:
    store = Keystore.create(tmp_path / "keys", PASS)
    a, b = Ed25519Signer.generate(), Ed25519Signer.generate()
    store.add(a, actor="a", role="department")
    store.add(b, actor="b", role="department")
    fa = tmp_path / "keys" / f"{a.key_id.hex()}.key"
    fb = tmp_path / "keys" / f"{b.key_id.hex()}.key"
    fa.write_text(fb.read_text())
    with pytest.raises(KeystoreError, match="different key"):
        Keystore.open(tmp_path / "keys", PASS).signer(a.key_id)


def test_named_secrets_are_sealed_and_stable(tmp_path: Path) -> None:
    store = Keystore.create(tmp_path / "keys", PASS)
    kek = store.secret("pii_kek")
    assert len(kek) == 32 and Keystore.open(tmp_path / "keys", PASS).secret("pii_kek") == kek
    with pytest.raises(KeystoreError):
        store.secret("absent", create=False)


def test_keys_added_or_retired_by_another_process_are_seen_at_once(tmp_path: Path) -> None:
    """Each process keeps the records it read; a changed key file makes it read again."""
    here = Keystore.create(tmp_path / "keys", PASS)
    elsewhere = Keystore.open(tmp_path / "keys", PASS)
    first = Ed25519Signer.generate("dept:A")
    here.add(first, actor="dept:A", role="department", department="A")
    assert elsewhere.current_signer("dept:A").key_id == first.key_id
    second = Ed25519Signer.generate("dept:A")
    here.add(second, actor="dept:A", role="department", department="A")
    here.retire(first.key_id)  # at once, within one clock tick of the add
    assert elsewhere.current_signer("dept:A").key_id == second.key_id
    here.retire(second.key_id)
    with pytest.raises(KeystoreError, match="no current key"):
        elsewhere.current_signer("dept:A")
    assert [r.retired for r in elsewhere.records()] == [True, True]


def test_a_secret_is_unsealed_once_per_file_version(tmp_path: Path) -> None:
    store = Keystore.create(tmp_path / "keys", PASS)
    first = store.secret("receipt_codes")
    assert store.secret("receipt_codes") is first  # kept, not read and unsealed again
    (tmp_path / "keys" / "receipt_codes.secret").unlink()
    again = store.secret("receipt_codes")  # the file is gone: a new secret, not the kept one
    assert again != first
    assert Keystore.open(tmp_path / "keys", PASS).secret("receipt_codes") == again


def test_a_keystore_without_a_generation_file_is_listed_afresh(tmp_path: Path) -> None:
    """A keystore made before the generation file (or with it removed) is listed on every
    look-up until a key is written again, never answered from an old listing."""
    here = Keystore.create(tmp_path / "keys", PASS)
    elsewhere = Keystore.open(tmp_path / "keys", PASS)
    first = Ed25519Signer.generate("dept:A")
    here.add(first, actor="dept:A", role="department", department="A")
    assert elsewhere.current_signer("dept:A").key_id == first.key_id
    (tmp_path / "keys" / GENERATION_FILE).unlink()
    assert elsewhere.current_signer("dept:A").key_id == first.key_id  # listed without it
    second = Ed25519Signer.generate("dept:A")
    _write_key_file_as_before(tmp_path / "keys", second)
    assert elsewhere.current_signer("dept:A").key_id == second.key_id


def _write_key_file_as_before(directory: Path, signer: Ed25519Signer) -> None:
    """A key file written the way a keystore did before the generation file: no byte
    appended anywhere."""
    writer = Keystore.open(directory, PASS)
    writer.add(signer, actor="dept:A", role="department", department="A")
    (directory / GENERATION_FILE).unlink()
