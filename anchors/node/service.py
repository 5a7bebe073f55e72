"""The anchor node's logic: register origins, accept checkpoints, cosign, seal blocks.

Layer: anchors node (application service of the simulated municipal blockchain node).
Checkpoint acceptance follows C2SP tlog-witness ``add-checkpoint``
(https://c2sp.org/tlog-witness), numbered as in :meth:`AnchorNode._accept`:

1. the origin is registered (404 ``unknown-origin``);
2. the note is signed by the origin's registered key (403 ``bad-signature``);
3. the text is a tlog-checkpoint and ``old`` is not above its size (400);
4. a size *below* the latest held is a rollback (409 ``smaller-size`` with the held size,
   alarm ``rollback``); the same size with another root is a split view (alarm
   ``split-view``; 422 ``different-root``, or 409 when ``old`` is stale, as the spec orders
   its checks); the same checkpoint again, from the held size, returns the existing receipt;
5. ``old`` must equal the latest size held, 0 before the first (409 ``old-size-mismatch``
   with that size — a stale client, no alarm);
6. the RFC 9162 consistency proof from the held checkpoint verifies, empty from size 0, and a
   checkpoint of size 0 has the empty tree's root (else 422 ``inconsistent``, alarm
   ``inconsistent``: a fork or a rewrite);
7. k validators (round robin by block height) each re-check 2 and 6 and add a cosignature/v1
   line; the cosigned checkpoint becomes a transaction.

Before step 1, a ledger may present the signed header of the newest block it holds a
receipt from (request header ``Caseledger-Anchored-Block``, ``anchors.node.protocol``). Signed
by k of this node's validators, it proves the node sealed that block; if the store lacks it
(ends below its height, or holds another block there) the node's data directory was restored
to an older state — the ``HEAD`` marker beside the store cannot tell when it was restored
with it. The node then records alarm ``node-rolled-back`` and refuses every checkpoint (409
``node-rolled-back``) until it is restarted on the newer store: sealing on would give new
blocks the heights of blocks already given.

Transactions are sealed by ONE sealer thread (group commit): it takes every request waiting
(up to ``MAX_BLOCK_TXS``), runs the steps in order, and seals the accepted ones into one block
(height, previous block hash, time, RFC 9162 root of the transactions), signed by k validators,
written with the alarms in one SQLite transaction; the HEAD marker follows.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from anchors import merkle, note
from anchors.codec import canonical_json
from anchors.errors import AnchorError, NodeRefused, NodeStoreError
from anchors.node.keys import Consortium, create_consortium, load_consortium
from anchors.node.protocol import AddCheckpoint, parse_add_checkpoint, parse_presented_block
from anchors.node.store import Alarm, NodeStore
from anchors.receipt import BlockHeader, Receipt, parse_block_header, tx_leaf

__all__ = ["DEFAULT_NODE_NAME", "AnchorNode", "open_node"]

DEFAULT_NODE_NAME: Final = "anchor.caseledger.example"
MAX_BLOCK_TXS: Final = 256
SUBMIT_TIMEOUT_SECONDS: Final = 30.0
HISTORY_LIMIT: Final = 10_000


@dataclass
class _Held:
    size: int
    root: bytes
    note: str


@dataclass
class _Job:
    kind: str  # "checkpoint" | "register"
    payload: Any
    future: Future[Any]


class AnchorNode:
    """One node: its consortium keys, its store and the sealer thread."""

    def __init__(self, directory: Path, consortium: Consortium, store: NodeStore) -> None:
        self.directory = directory
        self.consortium = consortium
        self.store = store
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._held: dict[str, _Held] = {}
        self._origins: dict[str, note.Verifier] = {}
        height, digest, _ = store.head()
        self._height, self._head_hash = height, digest
        self.halted = ""  # why the node refuses checkpoints (it was found rolled back)
        for origin, key in store.origins().items():
            self._origins[origin] = note.Verifier.from_key(key)
            latest = store.latest(origin)
            if latest is not None:
                self._held[origin] = _Held(latest.size, latest.root, latest.note)
        self._thread = threading.Thread(target=self._seal_loop, name="sealer", daemon=True)
        self._thread.start()

    # -- public API (any thread) -------------------------------------------------------------

    def keys(self) -> dict[str, Any]:
        return {
            "node": self.consortium.node,
            "threshold": self.consortium.threshold,
            "validators": [v.to_key() for v in self.consortium.cosignature_verifiers()],
        }

    def register(self, origin: str, verifier_key: str) -> bool:
        """Register a ledger origin with its checkpoint verifier key (trust on first use).

        Returns True if newly registered, False if already registered with the same key;
        raises ``NodeRefused`` (400 malformed, 409 registered with another key).
        """
        return bool(self._submit("register", (origin, verifier_key)))

    def add_checkpoint(self, body: bytes, presented: str | None = None) -> Receipt:
        """Accept a tlog-witness add-checkpoint body; the receipt of its block or NodeRefused.

        ``presented``: the ``Caseledger-Anchored-Block`` header value, if any (see the module
        docstring)."""
        if presented is not None:
            self._check_presented(parse_presented_block(presented))
        if self.halted:
            raise NodeRefused(409, "node-rolled-back", self.halted)
        request = parse_add_checkpoint(body)
        result: Receipt = self._submit("checkpoint", request)
        return result

    def _check_presented(self, block_note: str) -> None:
        """Refuse (and halt) when a block this node's validators signed is not in its store."""
        try:
            opened = note.open_note(block_note, self.consortium.block_verifiers())
            header = parse_block_header(opened.text)
        except (note.NoteError, AnchorError) as exc:
            raise NodeRefused(400, "malformed-block", f"presented block: {exc}") from exc
        if len(opened.signatures) < self.consortium.threshold or header.node != (
            self.consortium.node
        ):
            raise NodeRefused(
                400,
                "malformed-block",
                f"presented block: not sealed by {self.consortium.threshold} of this node's "
                "validators",
            )
        rows = self.store.query("SELECT hash FROM blocks WHERE height = ?", (header.height,))
        if rows and bytes(rows[0][0]) == header.hash:
            return
        found = (
            "holds another block at that height"
            if rows
            else f"ends at block {self.store.head()[0]}"
        )
        detail = (
            f"a ledger holds a receipt from block {header.height}, sealed by this node's "
            f"validators, but the node's store {found}: the node's data was restored to an "
            "older state; it refuses checkpoints until it is restarted on the newer store"
        )
        if not self.halted:
            self.halted = detail
            _, _, head_note = self.store.head()
            with self.store.tx() as c:
                c.execute(
                    "INSERT INTO alarms (time_ms, origin, kind, detail, evidence, held) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        time.time_ns() // 1_000_000,
                        "",
                        "node-rolled-back",
                        detail,
                        block_note,
                        head_note,
                    ),
                )
        raise NodeRefused(409, "node-rolled-back", detail)

    def latest(self, origin: str) -> Receipt | None:
        stored = self.store.latest(origin)
        return None if stored is None else _receipt(stored.receipt)

    def receipt_at(self, origin: str, size: int) -> Receipt | None:
        stored = self.store.at_size(origin, size)
        return None if stored is None else _receipt(stored.receipt)

    def history(self, origin: str, limit: int) -> list[str]:
        return [c.note for c in self.store.history(origin, min(limit, HISTORY_LIMIT))]

    def alarms(self) -> list[Alarm]:
        return self.store.alarms()

    def height(self) -> int:
        return self._height

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self.store.close()

    # -- sealer --------------------------------------------------------------------------------

    def _submit(self, kind: str, payload: Any) -> Any:
        future: Future[Any] = Future()
        self._queue.put(_Job(kind, payload, future))
        return future.result(timeout=SUBMIT_TIMEOUT_SECONDS)

    def _seal_loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < MAX_BLOCK_TXS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            try:
                self._process(batch)
            except Exception as exc:  # a store failure fails the batch, not the node
                for j in batch:
                    if not j.future.done():
                        j.future.set_exception(
                            exc if isinstance(exc, AnchorError) else NodeStoreError(str(exc))
                        )

    def _process(self, batch: list[_Job]) -> None:
        now_ms = time.time_ns() // 1_000_000
        height = self._height + 1
        accepted: list[tuple[_Job, note.Checkpoint, str]] = []
        alarms: list[tuple[str, str, str, str, str]] = []
        registrations: list[tuple[_Job, str, str]] = []
        held = dict(self._held)
        pending_origins = dict(self._origins)
        results: dict[int, Any] = {}
        for i, job in enumerate(batch):
            try:
                if job.kind == "register":
                    origin, key = job.payload
                    verifier = _registration(origin, key)
                    known = pending_origins.get(origin)
                    if known is not None and known != verifier:
                        raise NodeRefused(
                            409, "origin-registered", f"{origin} is registered with another key"
                        )
                    results[i] = known is None
                    if known is None:
                        pending_origins[origin] = verifier
                        registrations.append((job, origin, key))
                    continue
                checkpoint, cosigned, existing = self._accept(
                    job.payload, held, pending_origins, height, now_ms // 1000, alarms
                )
                if existing is not None:
                    results[i] = existing
                    continue
                held[checkpoint.origin] = _Held(checkpoint.size, checkpoint.root_hash, cosigned)
                accepted.append((job, checkpoint, cosigned))
            except NodeRefused as refused:
                results[i] = refused
        header = block_note = None
        if accepted:
            txs = [c for _, _, c in accepted]
            leaves = [tx_leaf(t) for t in txs]
            header = BlockHeader(
                self.consortium.node, height, self._head_hash, now_ms, len(txs), merkle.root(leaves)
            )
            block_note = note.sign_note(header.text, self.consortium.signers_for(height))
        with self.store.tx() as c:
            for _, origin, key in registrations:
                c.execute(
                    "INSERT INTO origins (origin, verifier_key, registered_ms) VALUES (?, ?, ?)",
                    (origin, key, now_ms),
                )
            for alarm in alarms:
                c.execute(
                    "INSERT INTO alarms (time_ms, origin, kind, detail, evidence, held) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (now_ms, *alarm),
                )
            if header is not None and block_note is not None:
                c.execute(
                    "INSERT INTO blocks (height, hash, note) VALUES (?, ?, ?)",
                    (height, header.hash, block_note),
                )
                leaves = [tx_leaf(cosigned) for _, _, cosigned in accepted]
                for index, (job, cp, cosigned) in enumerate(accepted):
                    receipt = Receipt(
                        cosigned, block_note, index, tuple(merkle.inclusion_proof(leaves, index))
                    )
                    c.execute(
                        "INSERT INTO checkpoints (origin, size, root, note, height, tx_index, "
                        "receipt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            cp.origin,
                            cp.size,
                            cp.root_hash,
                            cosigned,
                            height,
                            index,
                            canonical_json(receipt.as_json_value()).decode("utf-8"),
                        ),
                    )
                    results[batch.index(job)] = receipt
        if header is not None:
            self.store.write_head(header)
            self._height, self._head_hash = height, header.hash
        self._held = held
        self._origins = pending_origins
        for i, job in enumerate(batch):
            outcome = results.get(i)
            if isinstance(outcome, Exception):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    def _accept(
        self,
        request: AddCheckpoint,
        held: dict[str, _Held],
        origins: dict[str, note.Verifier],
        height: int,
        now_s: int,
        alarms: list[tuple[str, str, str, str, str]],
    ) -> tuple[note.Checkpoint, str, Receipt | None]:
        """Steps 1-7 of the module docstring for one request."""
        # 1. a registered origin (the first line of the note text names it).
        try:
            parsed = note.parse_note(request.signed_note)
        except note.NoteError as exc:
            raise NodeRefused(400, "malformed-checkpoint", str(exc)) from exc
        origin = parsed.text.split("\n", 1)[0]
        key = origins.get(origin)
        if key is None:
            raise NodeRefused(404, "unknown-origin", f"origin {origin[:200]!r} is not registered")
        # 2. signed by the origin's key.
        if not _signed_by(request.signed_note, key):
            raise NodeRefused(
                403, "bad-signature", f"not signed by the key registered for {origin}"
            )
        # 3. a checkpoint; old not above its size.
        try:
            checkpoint = note.parse_checkpoint(parsed.text)
        except note.NoteError as exc:
            raise NodeRefused(400, "malformed-checkpoint", str(exc)) from exc
        if request.old_size > checkpoint.size:
            raise NodeRefused(400, "old-above-size", "old size is larger than the checkpoint's")
        current = held.get(origin, _Held(0, merkle.EMPTY_ROOT, ""))
        # 4. rollback, split view, or a repeat.
        if checkpoint.size < current.size:
            alarms.append(
                (
                    origin,
                    "rollback",
                    f"presented size {checkpoint.size} after size {current.size} was anchored",
                    request.signed_note,
                    current.note,
                )
            )
            raise NodeRefused(
                409,
                "smaller-size",
                f"size {checkpoint.size} is below the anchored size {current.size} (rollback)",
                current.size,
            )
        stale = request.old_size != current.size
        if checkpoint.size == current.size and current.note:
            if checkpoint.root_hash != current.root:
                alarms.append(
                    (
                        origin,
                        "split-view",
                        f"a different root at the anchored size {current.size}",
                        request.signed_note,
                        current.note,
                    )
                )
                raise NodeRefused(
                    409 if stale else 422,
                    "different-root",
                    f"another root was anchored at size {current.size} (split view)",
                    current.size,
                )
            if not stale:
                stored = self.store.at_size(origin, current.size)
                if stored is not None:
                    return checkpoint, current.note, _receipt(stored.receipt)
                raise NodeRefused(409, "in-flight", "this checkpoint is being sealed", current.size)
        # 5. the client must prove consistency from what the node holds.
        if stale:
            raise NodeRefused(
                409,
                "old-size-mismatch",
                f"the node holds size {current.size}, not {request.old_size}",
                current.size,
            )
        # 6. consistency from the held checkpoint.
        proof = list(request.proof)
        if not merkle.verify_consistency(
            current.size, checkpoint.size, current.root, checkpoint.root_hash, proof
        ):
            alarms.append(
                (
                    origin,
                    "inconsistent",
                    f"no valid consistency proof from size {current.size} to {checkpoint.size}",
                    request.signed_note,
                    current.note,
                )
            )
            raise NodeRefused(
                422,
                "inconsistent",
                f"the consistency proof from size {current.size} does not verify (fork or rewrite)",
                current.size,
            )
        # 7. k validators re-check and cosign.
        cosigned = request.signed_note
        for validator in self.consortium.signers_for(height):
            if not (
                _signed_by(request.signed_note, key)
                and merkle.verify_consistency(
                    current.size, checkpoint.size, current.root, checkpoint.root_hash, proof
                )
            ):
                raise NodeRefused(422, "validator-refused", f"{validator.name} refused")
            cosigned = note.add_cosignature(cosigned, validator, now_s)
        return checkpoint, cosigned, None


def _signed_by(signed_note: str, key: note.Verifier) -> bool:
    try:
        opened = note.open_note(signed_note, [key])
    except note.NoteError:
        return False
    return any(s.key_id == key.key_id for s in opened.signatures)


def _registration(origin: object, key: object) -> note.Verifier:
    if not isinstance(origin, str) or not isinstance(key, str):
        raise NodeRefused(400, "malformed-request", "origin and verifier_key are strings")
    try:
        verifier = note.Verifier.from_key(key)
        note.Checkpoint(origin, 0, merkle.EMPTY_ROOT)  # the origin must be a checkpoint line
    except note.NoteError as exc:
        raise NodeRefused(400, "malformed-request", str(exc)) from exc
    if verifier.alg != note.ALG_ED25519 or verifier.name != origin:
        raise NodeRefused(400, "malformed-request", "an Ed25519 note key named after the origin")
    return verifier


def _receipt(text: str) -> Receipt:
    import json

    from anchors.receipt import receipt_from_value

    return receipt_from_value(json.loads(text))


def open_node(
    directory: Path, *, validators: int = 4, threshold: int = 3, name: str = DEFAULT_NODE_NAME
) -> AnchorNode:
    """Open (or on first start create) the node under ``directory``; check its store.

    Raises ``NodeStoreError`` when the store is stale or corrupted, or keys and store do not
    belong together.
    """
    directory.mkdir(parents=True, exist_ok=True)
    store = NodeStore(directory)
    keys_exist = (directory / "keys.json").exists()
    if not store.exists():
        if keys_exist:
            raise NodeStoreError(
                f"{directory}: validator keys exist but the store {store.path.name} is gone; "
                "the node refuses to start with an empty history"
            )
        consortium = create_consortium(directory, name, validators, threshold)
        genesis = BlockHeader(
            consortium.node, 0, bytes(32), time.time_ns() // 1_000_000, 0, merkle.EMPTY_ROOT
        )
        store.create(consortium, genesis, note.sign_note(genesis.text, consortium.signers_for(0)))
    else:
        if not keys_exist:
            raise NodeStoreError(f"{directory}: the store exists but keys.json is missing")
        consortium = load_consortium(directory)
    store.check(consortium)
    return AnchorNode(directory, consortium, store)
