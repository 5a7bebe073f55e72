"""Where a kiosk process finds the trust policy it verifies against.

Layer: kiosk (edge: files and environment). The policy (``anchors.policy``, docs/ANCHORING.md
§4) pins the ledger's checkpoint and platform keys and the anchor node's validators with
their k-of-n rule; the kiosk trusts nothing else. In order: an explicit path (``--policy``),
``$CASELEDGER_TRUST_POLICY``, then ``trust-policy.json`` beside a SQLite ledger.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from anchors.errors import PolicyError
from anchors.policy import MAX_POLICY_BYTES, TrustPolicy, parse_policy
from kiosk.errors import KioskError

__all__ = ["POLICY_ENV", "PolicyUnavailable", "load_trust_policy", "policy_path"]

POLICY_ENV: Final = "CASELEDGER_TRUST_POLICY"
POLICY_FILE: Final = "trust-policy.json"


class PolicyUnavailable(KioskError):
    """No trust policy was given or found, or it does not parse."""


def policy_path(explicit: str | None, storage: Any = None) -> Path | None:
    """The policy file to use, or None when none is configured."""
    if explicit:
        return Path(explicit)
    if os.environ.get(POLICY_ENV):
        return Path(os.environ[POLICY_ENV])
    if storage is not None and getattr(storage, "is_sqlite", False):
        beside = Path(storage.path).parent / POLICY_FILE
        if beside.exists():
            return beside
    return None


def load_trust_policy(explicit: str | None = None, storage: Any = None) -> TrustPolicy:
    """Read and parse the trust policy. Raises :class:`PolicyUnavailable`."""
    path = policy_path(explicit, storage)
    if path is None:
        raise PolicyUnavailable(
            f"no trust policy: pass --policy FILE or set ${POLICY_ENV} "
            "(export one with caseledger policy -o FILE)"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_POLICY_BYTES + 1)
        return parse_policy(data)
    except OSError as exc:
        raise PolicyUnavailable(f"trust policy {path}: {exc}") from None
    except PolicyError as exc:
        raise PolicyUnavailable(f"trust policy {path}: {exc}") from None
