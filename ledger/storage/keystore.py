"""The on-disk keystore of actors' private keys, sealed with a passphrase.

Layer: ledger storage (crypto, filesystem). Keys never go in the database
(DESIGN "Security"). Each key file holds the Ed25519 seed sealed with
XSalsa20-Poly1305 (``nacl.secret.SecretBox``) under a key derived from the
passphrase with Argon2id; files are created 0600 in a 0700 directory.
A wrong passphrase fails the MAC check (constant time) and raises.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from ledger.chain.signing import Ed25519Signer
from ledger.errors import KeystoreError

STORE_FORMAT = "caseledger-keystore/v1"
KEY_FORMAT = "caseledger-key/v1"
_CHECK = b"caseledger keystore check"
MIN_PASSPHRASE = 12
PASSPHRASE_ENV = "CASELEDGER_KEY_PASSPHRASE"
GENERATION_FILE = "keys.generation"
"""Grows by one byte each time a key file is written: every process sharing the directory
learns from one ``stat`` whether its listing of the keys still holds."""


@dataclass(frozen=True)
class KeyRecord:
    """What the keystore says about one key, without its secret."""

    key_id: bytes
    public_key: bytes
    actor: str
    role: str
    department: str
    retired: bool


def _write_private(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"{path.name}: unreadable keystore file ({exc})") from exc
    if not isinstance(data, dict):
        raise KeystoreError(f"{path.name}: not a keystore object")
    return data


class Keystore:
    """A directory of sealed Ed25519 keys. Open with :meth:`create` or :meth:`open`."""

    def __init__(self, directory: Path, box: nacl.secret.SecretBox):
        self.directory = directory
        self._box = box
        self._cache: dict[bytes, Ed25519Signer] = {}
        self._records: tuple[tuple[int, int] | None, list[KeyRecord]] | None = None
        self._secrets: dict[str, tuple[tuple[int, int, int], bytes]] = {}

    @staticmethod
    def _derive(passphrase: str, salt: bytes, ops: int, mem: int) -> nacl.secret.SecretBox:
        key = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, passphrase.encode("utf-8"), salt, ops, mem
        )
        return nacl.secret.SecretBox(key)

    @classmethod
    def create(cls, directory: str | Path, passphrase: str) -> Keystore:
        """Create an empty keystore; KeystoreError if one exists or the passphrase is weak."""
        path = Path(directory)
        if len(passphrase) < MIN_PASSPHRASE:
            raise KeystoreError(f"passphrase: at least {MIN_PASSPHRASE} characters")
        if (path / "keystore.json").exists():
            raise KeystoreError(f"{path}: a keystore already exists")
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        ops = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
        mem = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
        box = cls._derive(passphrase, salt, ops, mem)
        _write_private(
            path / "keystore.json",
            {
                "format": STORE_FORMAT,
                "kdf": "argon2id",
                "salt": salt.hex(),
                "opslimit": ops,
                "memlimit": mem,
                "check": base64.b64encode(box.encrypt(_CHECK)).decode(),
            },
        )
        keystore = cls(path, box)
        keystore._changed()
        return keystore

    @classmethod
    def open(cls, directory: str | Path, passphrase: str) -> Keystore:
        """Open an existing keystore. Raises KeystoreError on a wrong passphrase."""
        path = Path(directory)
        meta = _read_json(path / "keystore.json")
        if meta.get("format") != STORE_FORMAT:
            raise KeystoreError(f"{path}: not a {STORE_FORMAT} keystore")
        try:
            box = cls._derive(
                passphrase,
                bytes.fromhex(meta["salt"]),
                int(meta["opslimit"]),
                int(meta["memlimit"]),
            )
            box.decrypt(base64.b64decode(meta["check"]))
        except nacl.exceptions.CryptoError as exc:
            raise KeystoreError(f"{path}: wrong passphrase") from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise KeystoreError(f"{path}/keystore.json: malformed ({exc})") from exc
        return cls(path, box)

    @classmethod
    def open_or_create(cls, directory: str | Path, passphrase: str) -> Keystore:
        if (Path(directory) / "keystore.json").exists():
            return cls.open(directory, passphrase)
        return cls.create(directory, passphrase)

    def add(self, signer: Ed25519Signer, *, actor: str, role: str, department: str = "") -> None:
        """Seal and store ``signer``'s seed under its key id."""
        _write_private(
            self.directory / f"{signer.key_id.hex()}.key",
            {
                "format": KEY_FORMAT,
                "key_id": signer.key_id.hex(),
                "public_key": signer.public_key.hex(),
                "actor": actor,
                "role": role,
                "department": department,
                "retired": False,
                "created_ns": time.time_ns(),
                "sealed": base64.b64encode(self._box.encrypt(signer.seed)).decode(),
            },
        )
        self._cache[signer.key_id] = signer
        self._changed()

    def retire(self, key_id: bytes) -> None:
        """Mark a key retired (rotated out or revoked); its file stays for old signatures."""
        path = self.directory / f"{key_id.hex()}.key"
        data = _read_json(path)
        data["retired"] = True
        _write_private(path, data)
        self._changed()

    def _changed(self) -> None:
        """Say that a key file was written: one byte appended to :data:`GENERATION_FILE`,
        after the file is in place, so a reader that sees the new size sees the new file.
        The file only grows, so its size never comes back to a value a reader holds."""
        fd = os.open(
            self.directory / GENERATION_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        try:
            os.write(fd, b".")
        finally:
            os.close(fd)

    def _generation(self) -> tuple[int, int] | None:
        """The generation file's (inode, size); None without one (a keystore made before it:
        every listing is then read afresh)."""
        try:
            st = os.stat(self.directory / GENERATION_FILE)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KeystoreError(f"{GENERATION_FILE}: unreadable ({exc})") from exc
        return st.st_ino, st.st_size

    def records(self) -> list[KeyRecord]:
        """Every key record, oldest first. Read again only when the generation file says a
        key file was written since (another process may add or retire keys): a request
        must not list and stat the directory — under concurrent requests each system call
        hands the interpreter lock over, and two lookups per submission cost a sixth of
        its CPU (docs/BENCHMARKS.md)."""
        generation = self._generation()  # before reading: a write after it is seen next time
        cached = self._records
        if generation is not None and cached is not None and cached[0] == generation:
            return list(cached[1])
        out = self._read_records()
        self._records = (generation, out)
        return list(out)

    def _read_records(self) -> list[KeyRecord]:
        out = []
        files = [(_read_json(p), p) for p in self.directory.glob("*.key")]
        files.sort(key=lambda dp: (int(dp[0].get("created_ns", 0)), dp[1].name))
        for data, path in files:
            try:
                out.append(
                    KeyRecord(
                        key_id=bytes.fromhex(data["key_id"]),
                        public_key=bytes.fromhex(data["public_key"]),
                        actor=str(data["actor"]),
                        role=str(data["role"]),
                        department=str(data.get("department", "")),
                        retired=bool(data.get("retired", False)),
                    )
                )
            except (KeyError, ValueError) as exc:
                raise KeystoreError(f"{path.name}: malformed key file ({exc})") from exc
        return out

    def signer(self, key_id: bytes) -> Ed25519Signer:
        """The signer for ``key_id``. Raises KeystoreError if absent or undecryptable."""
        if key_id in self._cache:
            return self._cache[key_id]
        path = self.directory / f"{key_id.hex()}.key"
        if not path.exists():
            raise KeystoreError(f"key {key_id.hex()} is not in the keystore")
        data = _read_json(path)
        try:
            seed = self._box.decrypt(base64.b64decode(data["sealed"]))
        except (nacl.exceptions.CryptoError, KeyError, ValueError) as exc:
            raise KeystoreError(f"key {key_id.hex()}: cannot unseal") from exc
        signer = Ed25519Signer(seed, str(data.get("actor", "")))
        if signer.key_id != key_id:
            raise KeystoreError(f"key {key_id.hex()}: file holds a different key")
        self._cache[key_id] = signer
        return signer

    def secret(self, name: str, *, create: bool = True) -> bytes:
        """A named 32-byte secret (e.g. the personal-data KEK), sealed like the keys.

        Created on first use when ``create``; raises KeystoreError if absent otherwise.
        """
        if not name.isidentifier():
            raise KeystoreError(f"secret name {name!r}: letters, digits and _ only")
        path = self.directory / f"{name}.secret"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise KeystoreError(f"secret {name}: unreadable ({exc})") from exc
        if st is not None:
            # Unsealed once per file version: a receipt's verification code needs the secret
            # on every submission, and reading and unsealing it cost more than the code.
            version = (st.st_ino, st.st_mtime_ns, st.st_size)
            kept = self._secrets.get(name)
            if kept is not None and kept[0] == version:
                return kept[1]
            try:
                value = self._box.decrypt(base64.b64decode(_read_json(path)["sealed"]))
            except (nacl.exceptions.CryptoError, KeyError, ValueError) as exc:
                raise KeystoreError(f"secret {name}: cannot unseal") from exc
            self._secrets[name] = (version, value)
            return value
        if not create:
            raise KeystoreError(f"secret {name} is not in the keystore")
        value = nacl.utils.random(32)
        _write_private(
            path,
            {
                "format": KEY_FORMAT,
                "secret": name,
                "sealed": base64.b64encode(self._box.encrypt(value)).decode(),
            },
        )
        st = os.stat(path)
        self._secrets[name] = ((st.st_ino, st.st_mtime_ns, st.st_size), value)
        return value

    def current_signer(self, actor: str) -> Ed25519Signer:
        """The actor's newest key that is not retired. Raises KeystoreError if none."""
        for record in reversed(self.records()):
            if record.actor == actor and not record.retired:
                return self.signer(record.key_id)
        raise KeystoreError(f"no current key for actor {actor!r}")
