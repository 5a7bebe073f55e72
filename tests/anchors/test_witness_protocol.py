"""The anchor node speaks C2SP tlog-witness ``add-checkpoint`` to any witness client.

A real node process on loopback is driven with raw HTTP, the way an external client that knows
only the spec would: request bodies shaped like the spec's example (old size line, proof lines,
empty line, checkpoint with several signatures), answers checked for the spec's status codes,
content types and bodies — 200 with cosignature/v1 lines that verify when appended to the
checkpoint, 409 with ``<size>\\n`` as ``text/x.tlog.size``, 400/403/404/422 — and the
monitoring endpoint. Spec: https://c2sp.org/tlog-witness (C2SP/C2SP tlog-witness.md at commit
5ba5ee8, 2026-07-22).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from anchors import merkle, note
from anchors.codec import b64encode
from anchors.node.client import NodeClient
from tests.anchors.fixtures import shared_node_fixture  # noqa: F401
from tests.anchors.processes import NodeProcess

# The request body example of the spec's add-checkpoint section, verbatim.
SPEC_EXAMPLE_REQUEST = "\n".join(
    [
        "old 20852014",
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
        "",
        "example.com/behind-the-sofa",
        "20852163",
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "",
        "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
        "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=",
        "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+"
        "49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=",
        "",
    ]
)


@dataclass
class Log:
    """A log of our own that a witness client would run: its key, its leaves."""

    origin: str
    signer: note.Signer
    leaves: list[bytes]

    def checkpoint(self, size: int, root: bytes | None = None, *, extra: bool = True) -> str:
        body = note.Checkpoint(
            self.origin, size, merkle.root(self.leaves[:size]) if root is None else root
        ).format()
        signers = [self.signer]
        if extra:  # a second signature, by a key the witness does not know (the spec allows it)
            stranger, _ = note.generate_signer(self.origin)
            signers.append(note.Signer.from_key(stranger))
        return note.sign_note(body, signers)

    def proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(self.leaves[:new], old)


def body_of(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    lines = [f"old {old}", *(b64encode(p) for p in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint).encode("utf-8")


def post(node: NodeProcess, body: bytes) -> httpx.Response:
    return httpx.post(node.url + "/add-checkpoint", content=body, timeout=30)


@pytest.fixture
def log(shared_node: NodeProcess, request: pytest.FixtureRequest) -> Iterator[Log]:
    name = hashlib.sha256(request.node.name.encode()).hexdigest()[:12]
    skey, vkey = note.generate_signer(f"example.com/{name}")
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(40)]
    found = Log(f"example.com/{name}", note.Signer.from_key(skey), leaves)
    NodeClient(shared_node.url).register(found.origin, vkey)
    yield found


def witness_keys(node: NodeProcess) -> list[note.Verifier]:
    return list(NodeClient(node.url).keys().validators)


def test_the_spec_example_request_is_refused_404_for_an_origin_the_witness_does_not_know(
    shared_node: NodeProcess,
) -> None:
    answer = post(shared_node, SPEC_EXAMPLE_REQUEST.encode("utf-8"))
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/plain")
    assert "example.com/behind-the-sofa" in answer.text


def test_a_first_checkpoint_is_cosigned_with_cosignature_lines_that_verify(
    shared_node: NodeProcess, log: Log
) -> None:
    checkpoint = log.checkpoint(10)
    answer = post(shared_node, body_of(0, [], checkpoint))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    lines = answer.text.split("\n")
    assert lines[-1] == "" and all(line.startswith("— ") for line in lines[:-1])
    # As the spec suggests a client do: append the lines, verify with the witness keys.
    keys = witness_keys(shared_node)
    cosigned = note.open_note(checkpoint + answer.text, keys)
    threshold = NodeClient(shared_node.url).keys().threshold
    assert len(cosigned.signatures) == len(lines) - 1 >= threshold
    assert all(s.alg == note.ALG_COSIGNATURE_V1 and s.timestamp for s in cosigned.signatures)
    assert {s.name for s in cosigned.signatures} <= {k.name for k in keys}


def test_a_stale_old_size_gets_409_with_the_size_the_witness_holds_then_succeeds(
    shared_node: NodeProcess, log: Log
) -> None:
    assert post(shared_node, body_of(0, [], log.checkpoint(10))).status_code == 200
    stale = post(shared_node, body_of(0, [], log.checkpoint(25)))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.content == b"10\n"
    size = int(stale.text)
    retried = post(shared_node, body_of(size, log.proof(size, 25), log.checkpoint(25)))
    assert retried.status_code == 200, retried.text
    # A size below what the witness holds is also answered with the held size.
    rolled_back = post(shared_node, body_of(5, log.proof(5, 8), log.checkpoint(8)))
    assert (rolled_back.status_code, rolled_back.content) == (409, b"25\n")


@pytest.mark.parametrize(
    ("make", "status"),
    [
        # old size above the checkpoint's: 400
        (lambda log: body_of(11, [], log.checkpoint(10)), 400),
        # not an old size line / no empty line / not base64: 400
        (lambda log: b"old 010\n\n" + log.checkpoint(10).encode(), 400),
        (lambda log: b"old 0\n" + log.checkpoint(10).encode(), 400),
        (lambda log: b"old 0\nnot base64!\n\n" + log.checkpoint(10).encode(), 400),
        # signed only by a key the witness does not trust for the origin: 403
        (lambda log: body_of(0, [], _forged(log, 10)), 403),
        # a trusted key's signature that does not verify: 403
        (lambda log: body_of(0, [], _tampered_signature(log, 10)), 403),
        # a proof from old size 0 must be empty: 422
        (lambda log: body_of(0, [bytes(32)], log.checkpoint(10)), 422),
        # a size-0 checkpoint must have the empty tree's root: 422
        (lambda log: body_of(0, [], log.checkpoint(0, root=bytes(32))), 422),
    ],
)
def test_refusals_carry_the_spec_status_codes(
    shared_node: NodeProcess, log: Log, make: object, status: int
) -> None:
    answer = post(shared_node, make(log))  # type: ignore[operator]
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/plain")


def _forged(log: Log, size: int) -> str:
    stranger, _ = note.generate_signer(log.origin)
    body = note.Checkpoint(log.origin, size, merkle.root(log.leaves[:size])).format()
    return note.sign_note(body, [note.Signer.from_key(stranger)])


def _tampered_signature(log: Log, size: int) -> str:
    body = note.Checkpoint(log.origin, size, merkle.root(log.leaves[:size])).format()
    signature = bytearray(log.signer.sign(body.encode()))
    signature[0] ^= 1
    line = note.NoteSignature(log.signer.name, log.signer.key_id, bytes(signature)).line()
    return body + "\n" + line


def test_consistency_is_checked_from_the_held_checkpoint(
    shared_node: NodeProcess, log: Log
) -> None:
    assert post(shared_node, body_of(0, [], log.checkpoint(10))).status_code == 200
    wrong_proof = post(shared_node, body_of(10, log.proof(9, 20), log.checkpoint(20)))
    assert wrong_proof.status_code == 422
    other_root = post(shared_node, body_of(10, [], log.checkpoint(10, root=bytes(32))))
    assert other_root.status_code == 422  # same size, another root: a split view
    again = post(shared_node, body_of(10, [], log.checkpoint(10)))
    assert again.status_code == 200  # the same checkpoint from the held size
    assert note.open_note(log.checkpoint(10, extra=False) + again.text, witness_keys(shared_node))


def test_an_empty_tree_is_cosigned(shared_node: NodeProcess, log: Log) -> None:
    answer = post(shared_node, body_of(0, [], log.checkpoint(0, root=merkle.EMPTY_ROOT)))
    assert answer.status_code == 200, answer.text
    assert post(shared_node, body_of(0, [], log.checkpoint(3))).status_code == 200


def test_the_monitoring_endpoint_serves_the_latest_cosigned_checkpoint(
    shared_node: NodeProcess, log: Log
) -> None:
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    assert httpx.get(f"{shared_node.url}/{origin_hash}/checkpoint").status_code == 404
    checkpoint = log.checkpoint(12)
    answer = post(shared_node, body_of(0, [], checkpoint))
    served = httpx.get(f"{shared_node.url}/{origin_hash}/checkpoint")
    assert served.status_code == 200
    opened = note.open_note(served.text, [log.signer.verifier(), *witness_keys(shared_node)])
    assert opened.text == note.parse_note(checkpoint).text
    assert set(answer.text.split("\n")) <= set(served.text.split("\n"))
    assert httpx.get(f"{shared_node.url}/{'0' * 64}/checkpoint").status_code == 404
    assert httpx.get(f"{shared_node.url}/{'A' * 64}/checkpoint").status_code == 422


def test_our_own_client_still_gets_json_receipts(shared_node: NodeProcess, log: Log) -> None:
    from anchors.node.protocol import AddCheckpoint

    client = NodeClient(shared_node.url)
    receipt = client.add_checkpoint(AddCheckpoint(0, (), log.checkpoint(7)))
    assert receipt.block and receipt.tx_proof is not None
    held = client.latest(log.origin)
    assert held is not None and held.checkpoint == receipt.checkpoint
    answer = httpx.post(
        shared_node.url + "/add-checkpoint",
        content=body_of(0, [], log.checkpoint(9)),
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 409 and answer.json() == {
        "error": "old-size-mismatch",
        "detail": "the node holds size 7, not 0",
        "size": 7,
    }
