"""Personal data protection (DESIGN invariant 5; GZ20·25, NH·23, GZ16·21): per-subject AES-GCM,
keys wrapped outside the chain, erasure by key destruction, keyed blind indexes."""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from uuid import uuid4

import pytest

from ledger.domain.personal_data import ERASED, PersonalData, PrivacyError, Sealed
from ledger.domain.rules import InvalidApplicant
from ledger.encoding import canonical, decode
from ledger.errors import ConfigurationError
from ledger.storage.privacy import (
    CiphertextRejected,
    PersonalDataVault,
    SubjectErased,
    UnknownSubject,
    WrongKeyEncryptionKey,
    normalise_index_value,
)
from ledger.storage.subject_keys import SQLiteSubjectKeyStore, SubjectKeyStore

NAME = "张三丰"


# --- sealing and opening --------------------------------------------------------------------------


def test_sealed_field_opens_to_its_text(vault: PersonalDataVault) -> None:
    subject = uuid4()
    sealed = vault.seal(subject, "name", NAME)
    assert vault.open(sealed) == NAME
    assert NAME.encode() not in sealed.ciphertext


def test_every_seal_uses_a_fresh_nonce(vault: PersonalDataVault) -> None:
    subject = uuid4()
    assert (
        vault.seal(subject, "name", NAME).ciphertext != vault.seal(subject, "name", NAME).ciphertext
    )


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_tampered_ciphertext_is_rejected(vault: PersonalDataVault, position: int) -> None:
    sealed = vault.seal(uuid4(), "phone", "13800138000")
    tampered = bytearray(sealed.ciphertext)
    tampered[position] ^= 0x01
    with pytest.raises(CiphertextRejected):
        vault.open(Sealed(sealed.subject_id, "phone", bytes(tampered)))


def test_truncated_ciphertext_is_rejected(vault: PersonalDataVault) -> None:
    sealed = vault.seal(uuid4(), "phone", "13800138000")
    with pytest.raises(CiphertextRejected):
        vault.open(Sealed(sealed.subject_id, "phone", sealed.ciphertext[:20]))


def test_ciphertext_moved_to_another_field_fails(vault: PersonalDataVault) -> None:
    sealed = vault.seal(uuid4(), "name", NAME)
    with pytest.raises(CiphertextRejected):
        vault.open(Sealed(sealed.subject_id, "address", sealed.ciphertext))


def test_ciphertext_moved_to_another_subject_fails(vault: PersonalDataVault) -> None:
    other = uuid4()
    vault.seal(other, "name", "李四")
    sealed = vault.seal(uuid4(), "name", NAME)
    with pytest.raises(CiphertextRejected):
        vault.open(Sealed(other, "name", sealed.ciphertext))


def test_opening_for_a_subject_never_sealed_is_refused(vault: PersonalDataVault) -> None:
    sealed = vault.seal(uuid4(), "name", NAME)
    with pytest.raises(UnknownSubject):
        vault.open(Sealed(uuid4(), "name", sealed.ciphertext))


def test_sealed_round_trips_through_to_dict_and_canonical_bytes(vault: PersonalDataVault) -> None:
    sealed = vault.seal(uuid4(), "address", "广州市天河区天河路1号")
    again = Sealed.from_dict(decode(canonical(sealed.to_dict())))
    assert again == sealed
    assert vault.open(again) == "广州市天河区天河路1号"


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"subject_id": uuid4(), "field": "name"},
        {"subject_id": "x", "field": "name", "ciphertext": b""},
        {"subject_id": uuid4(), "field": "Name!", "ciphertext": b""},
    ],
)
def test_malformed_sealed_data_is_rejected(data: object) -> None:
    with pytest.raises(PrivacyError):
        Sealed.from_dict(data)


# --- erasure --------------------------------------------------------------------------------------


def test_erased_subject_reads_ERASED_and_gets_no_new_data(vault: PersonalDataVault) -> None:
    subject, bystander = uuid4(), uuid4()
    name = vault.seal(subject, "name", NAME)
    kept = vault.seal(bystander, "name", "李四")
    assert vault.erase(subject) is True
    assert vault.open(name) is ERASED
    assert str(ERASED) == "[erased]"
    assert vault.is_erased(subject)
    assert vault.open(kept) == "李四"
    with pytest.raises(SubjectErased):
        vault.seal(subject, "name", NAME)
    assert vault.erase(subject) is False  # idempotent


def test_erasing_a_subject_never_sealed_leaves_a_tombstone(vault: PersonalDataVault) -> None:
    subject = uuid4()
    assert vault.erase(subject) is False
    with pytest.raises(SubjectErased):
        vault.seal(subject, "name", NAME)


def test_erasure_overwrites_the_wrapped_key_in_the_sqlite_file(
    vault: PersonalDataVault, ledger_path: Path
) -> None:
    subject = uuid4()
    vault.seal(subject, "name", NAME)
    with sqlite3.connect(ledger_path) as conn:
        (wrapped,) = conn.execute(
            "SELECT wrapped_key FROM subject_keys WHERE subject_id = ?", (str(subject),)
        ).fetchone()
    assert wrapped in ledger_path.read_bytes()
    vault.erase(subject)
    assert wrapped not in ledger_path.read_bytes()  # PRAGMA secure_delete


def test_key_encryption_key_is_never_in_the_database(
    vault: PersonalDataVault, kek: bytes, index_key: bytes, ledger_path: Path
) -> None:
    for i in range(5):
        vault.seal(uuid4(), "name", f"{NAME}{i}")
    data = ledger_path.read_bytes()
    assert kek not in data and index_key not in data


def test_wrong_key_encryption_key_is_detected(
    sqlite_key_store: SQLiteSubjectKeyStore, vault: PersonalDataVault, index_key: bytes
) -> None:
    sealed = vault.seal(uuid4(), "name", NAME)
    other = PersonalDataVault(sqlite_key_store, kek=os.urandom(32), index_key=index_key)
    with pytest.raises(WrongKeyEncryptionKey):
        other.open(sealed)


@pytest.mark.parametrize(
    ("kek", "index_key"),
    [(b"short", os.urandom(32)), (os.urandom(32), b""), ("x" * 32, os.urandom(32))],
)
def test_secrets_are_32_bytes(
    sqlite_key_store: SQLiteSubjectKeyStore, kek: bytes, index_key: bytes
) -> None:
    with pytest.raises(ConfigurationError):
        PersonalDataVault(sqlite_key_store, kek=kek, index_key=index_key)


def test_index_key_must_differ_from_the_key_encryption_key(
    sqlite_key_store: SQLiteSubjectKeyStore, kek: bytes
) -> None:
    with pytest.raises(ConfigurationError):
        PersonalDataVault(sqlite_key_store, kek=kek, index_key=bytes(kek))


def test_vault_repr_shows_no_secret(vault: PersonalDataVault, kek: bytes) -> None:
    assert kek.hex() not in repr(vault)


# --- blind index ----------------------------------------------------------------------------------


def test_blind_index_is_hmac_of_kind_nul_normalised_value(
    vault: PersonalDataVault, index_key: bytes
) -> None:
    expected = hmac.new(index_key, b"resident_id\x0011010519491231002X", hashlib.sha256).digest()
    assert vault.blind_index("resident_id", " 110105 19491231002x ") == expected
    assert (
        vault.blind_index("resident_id", "11010519491231002X")
        != hashlib.sha256(b"11010519491231002X").digest()
    )


def test_blind_index_depends_on_kind_and_key(
    sqlite_key_store: SQLiteSubjectKeyStore, vault: PersonalDataVault, kek: bytes
) -> None:
    value = "440106199003071231"
    assert vault.blind_index("resident_id", value) != vault.blind_index("social_security", value)
    other = PersonalDataVault(sqlite_key_store, kek=kek, index_key=os.urandom(32))
    assert other.blind_index("resident_id", value) != vault.blind_index("resident_id", value)


def test_blind_index_matches_in_constant_time(vault: PersonalDataVault) -> None:
    index = vault.blind_index("phone", "+86 138-0013-8000")
    assert vault.matches("phone", "13800138000", index)
    assert not vault.matches("phone", "13800138001", index)


@pytest.mark.parametrize(
    ("kind", "value", "normal"),
    [
        ("phone", "+86 138 0013 8000", "13800138000"),
        ("passport", "usa:e 1234567", "USA:E1234567"),
        ("name", "  Anna   Smith ", "ANNA SMITH"),
        ("uscc", "９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"),
    ],
)
def test_index_values_are_normalised(kind: str, value: str, normal: str) -> None:
    assert normalise_index_value(kind, value) == normal


@pytest.mark.parametrize(("kind", "value"), [("", "x"), ("Resident ID", "x"), ("phone", "--")])
def test_bad_index_kind_or_empty_value_is_refused(
    vault: PersonalDataVault, kind: str, value: str
) -> None:
    with pytest.raises(PrivacyError):
        vault.blind_index(kind, value)


# --- personal data value --------------------------------------------------------------------------


def test_personal_data_repr_masks_every_field() -> None:
    data = PersonalData("张三丰", "13800138000", "广州市天河区天河路1号")
    text = repr(data)
    assert "张三丰" not in text and "13800138000" not in text and "天河路" not in text


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("name", {"name": ""}),
        ("phone", {"name": NAME, "phone": "call me"}),
        ("address", {"name": NAME, "address": " "}),
    ],
)
def test_personal_data_is_validated_naming_the_field(field: str, kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidApplicant) as caught:
        PersonalData(**kwargs)
    assert caught.value.field == field


def test_personal_data_may_read_erased() -> None:
    assert PersonalData(ERASED, ERASED, ERASED).erased


# --- the subject key store contract (SQLite file and PostgreSQL) ----------------------------------


def test_store_keeps_the_first_key_of_a_subject(key_store: SubjectKeyStore) -> None:
    subject = uuid4()
    assert key_store.get(subject) is None
    first = key_store.insert(subject, b"kek-id-1", b"wrapped-1")
    second = key_store.insert(subject, b"kek-id-1", b"wrapped-2")
    assert first.wrapped_key == second.wrapped_key == b"wrapped-1"
    assert key_store.get(subject) == first
    assert not first.erased


def test_store_destroys_a_key_and_keeps_a_tombstone(key_store: SubjectKeyStore) -> None:
    subject = uuid4()
    key_store.insert(subject, b"kek-id-1", b"wrapped-1")
    assert key_store.destroy(subject) is True
    record = key_store.get(subject)
    assert record is not None and record.erased and record.erased_at is not None
    assert key_store.destroy(subject) is False
    assert key_store.insert(subject, b"kek-id-1", b"wrapped-again").erased


def test_store_tombstones_a_subject_it_never_saw(key_store: SubjectKeyStore) -> None:
    subject = uuid4()
    assert key_store.destroy(subject) is False
    record = key_store.get(subject)
    assert record is not None and record.erased


def test_store_migrate_is_repeatable(key_store: SubjectKeyStore) -> None:
    key_store.migrate()


def test_concurrent_first_seals_agree_on_one_key(
    key_store: SubjectKeyStore, kek: bytes, index_key: bytes
) -> None:
    vault = PersonalDataVault(key_store, kek=kek, index_key=index_key)
    subject = uuid4()
    sealed: list[Sealed] = []
    errors: list[BaseException] = []

    def seal(i: int) -> None:
        try:
            sealed.append(vault.seal(subject, "name", f"{NAME}{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=seal, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(vault.open(s) for s in sealed) == sorted(f"{NAME}{i}" for i in range(8))  # type: ignore[type-var]


def test_vault_works_on_every_store(
    key_store: SubjectKeyStore, kek: bytes, index_key: bytes
) -> None:
    vault = PersonalDataVault(key_store, kek=kek, index_key=index_key)
    subject = uuid4()
    sealed = vault.seal(subject, "name", NAME)
    assert vault.open(sealed) == NAME
    vault.erase(subject)
    assert vault.open(sealed) is ERASED


# --- layering -------------------------------------------------------------------------------------


def test_domain_modules_load_no_crypto_or_database_at_import() -> None:
    code = (
        "import sys, ledger.domain.applicants, ledger.domain.catalogue,"
        " ledger.domain.departments, ledger.domain.rules;"
        "bad = [m for m in ('cryptography', 'psycopg', 'sqlite3', 'nacl') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
