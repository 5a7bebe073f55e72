"""Read model of actor keys: who holds which key, since when, and whether it was revoked.

Layer: projections. Serves the trust policy export and the audit endpoints
(DESIGN invariant 2); built only from ``ledger.domain.keys`` events.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.keys import KEY_REGISTERED_TOPIC, KEY_REVOKED_TOPIC
from projections.store import Table, Tx
from projections.view import View, on

KEYS = Table(
    "view_keys",
    (
        ("key_id", "BLOB"),
        ("originator_id", "TEXT"),
        ("actor", "TEXT"),
        ("role", "TEXT"),
        ("department", "TEXT"),
        ("public_key", "BLOB"),
        ("registered_at", "TEXT"),
        ("revoked_at", "TEXT"),
        ("revocation_reason", "TEXT"),
    ),
    ("key_id",),
    (("originator_id",), ("actor",)),
)


class KeysView(View):
    name = "keys"
    tables = (KEYS,)

    @on(KEY_REGISTERED_TOPIC)
    def registered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_keys (key_id, originator_id, actor, role, department, public_key,"
            " registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                e.key_id,
                str(e.originator_id),
                e.actor,
                e.role,
                e.department,
                e.public_key,
                e.timestamp.isoformat(),
            ),
        )

    @on(KEY_REVOKED_TOPIC)
    def revoked(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_keys SET revoked_at = ?, revocation_reason = ? WHERE originator_id = ?",
            (e.timestamp.isoformat(), e.reason, str(e.originator_id)),
        )


def current_keys(view: KeysView) -> list[dict[str, Any]]:
    """Every key with its state, ordered by actor."""
    with view.store.transaction(commit=False) as tx:
        tx.execute(
            "SELECT key_id, actor, role, department, public_key, registered_at, revoked_at "
            "FROM view_keys ORDER BY actor, registered_at"
        )
        rows = tx.fetchall()
    return [
        {
            "key_id": r[0].hex(),
            "actor": r[1],
            "role": r[2],
            "department": r[3],
            "public_key": r[4].hex(),
            "registered_at": r[5],
            "revoked_at": r[6],
        }
        for r in rows
    ]
