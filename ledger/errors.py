"""Error root of the write side (ledger layer).

Every error the ledger raises derives from :class:`LedgerError`, so callers at
the edges (HTTP, CLI) map one hierarchy. A refused command is a
:class:`RuleViolation` carrying the RULES.md reference (e.g. ``GZ16·14``).
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error raised by the ledger package."""


class ConfigurationError(LedgerError):
    """The ledger was configured in a way it refuses to run with."""


class EncodingError(LedgerError, ValueError):
    """A value cannot be put in (or read from) canonical form."""


class SigningError(LedgerError):
    """A command could not be signed (no signer, or an unusable key)."""


class KeystoreError(LedgerError):
    """The on-disk keystore is missing, unreadable or locked with another passphrase."""


class RuleViolation(LedgerError):
    """A command was refused because it breaks a rule of the regulations.

    ``rule`` is the RULES.md source (``GZ16·14``); ``code`` a stable machine name.
    """

    code = "rule-violation"
    rule = ""

    def __init__(self, message: str, *, rule: str | None = None, code: str | None = None):
        super().__init__(message)
        if rule is not None:
            self.rule = rule
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.rule})" if self.rule else base


class LedgerRolledBack(LedgerError):
    """The ledger refuses to write: its log is shorter than, or diverges from, the newest head
    this installation knows of (its own state file or the anchor node), or the anchor node
    forgot receipts the chain recorded. ``code`` names the finding (``ledger-rolled-back``,
    ``ledger-diverged``, ``anchor-node-rolled-back``, ``head-state-unreadable``) and the
    message says what was expected and what was found; it carries no personal data."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
