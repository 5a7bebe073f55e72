"""The ledger side's HTTP client for the anchor node (anchors layer, network edge).

Standard library only (``urllib``). Every answer is size-bounded and parsed into validated
values; connection failures, timeouts and 5xx become ``NodeUnavailable`` (retry with backoff),
4xx become ``NodeRefused`` carrying the node's error code and held size.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

from anchors import note
from anchors.codec import b64encode, load_json
from anchors.errors import NodeRefused, NodeUnavailable, PolicyError
from anchors.node.protocol import ANCHORED_BLOCK_HEADER, AddCheckpoint
from anchors.policy import TrustPolicy
from anchors.receipt import Receipt, receipt_from_value

__all__ = ["NodeClient", "NodeKeys"]

MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS: Final = 5.0


@dataclass(frozen=True)
class NodeKeys:
    node: str
    threshold: int
    validators: tuple[note.Verifier, ...]


class NodeClient:
    """Talks to one anchor node at ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise NodeUnavailable(f"--node: {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "",
        headers: dict[str, str] | None = None,
    ) -> Any:
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        request.add_header("Accept", "application/json")  # receipts, not tlog-witness text
        if content_type:
            request.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raw = exc.read(64 * 1024)
            if exc.code >= 500:
                raise NodeUnavailable(f"node {self.base_url}: HTTP {exc.code}") from exc
            try:
                err = json.loads(raw)
                code, detail, size = str(err["error"]), str(err["detail"]), err.get("size")
            except (ValueError, KeyError, TypeError):
                code, detail, size = "http-error", raw[:200].decode("utf-8", "replace"), None
            raise NodeRefused(
                exc.code, code, detail, size if isinstance(size, int) else None
            ) from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise NodeUnavailable(f"node {self.base_url} unreachable: {exc}") from exc
        return load_json(raw, limit=MAX_RESPONSE_BYTES, error=NodeUnavailable, what="node answer")

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/healthz")
        return result

    def keys(self) -> NodeKeys:
        data = self._call("GET", "/v1/keys")
        try:
            return NodeKeys(
                str(data["node"]),
                int(data["threshold"]),
                tuple(note.Verifier.from_key(k) for k in data["validators"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeUnavailable(f"node keys malformed: {exc}") from exc

    def register(self, origin: str, verifier_key: str) -> bool:
        body = json.dumps({"origin": origin, "verifier_key": verifier_key}).encode()
        data = self._call("POST", "/v1/origins", body, "application/json")
        return bool(data.get("created"))

    def origins(self) -> dict[str, str]:
        """Every registered origin and its checkpoint verifier key."""
        data = self._call("GET", "/v1/origins")
        if not isinstance(data, dict):
            raise NodeUnavailable("node origins malformed")
        return {o: k for o, k in data.items() if isinstance(o, str) and isinstance(k, str)}

    def origin_key(self, origin: str) -> str | None:
        return self.origins().get(origin)

    def add_checkpoint(
        self, request: AddCheckpoint, *, presented_block: str | None = None
    ) -> Receipt:
        """POST the tlog-witness body; ``presented_block`` is the signed block header of the
        latest receipt the ledger recorded, sent as ``Caseledger-Anchored-Block`` (base64) so
        a node restored to an older height refuses (``node-rolled-back``)."""
        headers = (
            {ANCHORED_BLOCK_HEADER: b64encode(presented_block.encode("utf-8"))}
            if presented_block
            else None
        )
        data = self._call(
            "POST", "/add-checkpoint", request.format().encode("utf-8"), "text/plain", headers
        )
        return receipt_from_value(data)

    def latest(self, origin: str, size: int | None = None) -> Receipt | None:
        query = {"origin": origin} | ({} if size is None else {"size": str(size)})
        try:
            data = self._call("GET", "/v1/checkpoint?" + urllib.parse.urlencode(query))
        except NodeRefused as exc:
            if exc.status == 404:
                return None
            raise
        return receipt_from_value(data)

    def checkpoints(self, origin: str, limit: int = 1000) -> list[str]:
        query = urllib.parse.urlencode({"origin": origin, "limit": str(limit)})
        data = self._call("GET", "/v1/checkpoints?" + query)
        found = data.get("checkpoints")
        if not isinstance(found, list) or not all(isinstance(c, str) for c in found):
            raise NodeUnavailable("node history malformed")
        return found

    def alarms(self) -> list[dict[str, Any]]:
        found = self._call("GET", "/v1/alarms").get("alarms")
        return found if isinstance(found, list) else []

    def policy(self, origin: str, platform_keys: tuple[bytes, ...]) -> TrustPolicy:
        """A trust policy from what the node publishes (trust on first use of the node)."""
        keys = self.keys()
        vkey = self.origin_key(origin)
        if vkey is None:
            raise PolicyError(f"origin {origin!r} is not registered at {self.base_url}")
        try:
            return TrustPolicy(
                origin,
                note.Verifier.from_key(vkey),
                platform_keys,
                keys.node,
                keys.validators,
                keys.threshold,
            )
        except note.NoteError as exc:
            raise PolicyError(str(exc)) from exc
