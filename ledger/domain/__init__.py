"""The domain: aggregates, rules, calendar, identifiers and values, as the regulations define them.

Layer: ledger domain, the innermost. One module per aggregate (cases, certificates, ratings …),
plus the rule registry (``rules``), working-day arithmetic (``calendar``), credential parsing
(``identity``) and signed-document values (``documents``, ``sealed``). May import the standard
library, ``eventsourcing.domain``, ``ledger.errors`` and ``ledger.encoding`` only: no storage,
no cryptography library, no web code. Signing reaches it as the ``signer.Signer`` port.
"""
