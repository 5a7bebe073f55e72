"""The write side: the case ledger's domain, its hash chain, its storage and its services.

Layers, each a subpackage (docs/ARCHITECTURE.md, enforced by the import contracts in
pyproject.toml): ``domain`` (aggregates, rules, values) ← ``chain`` (entries, signing,
verification, chained recorders) ← ``storage`` (storage URLs, PostgreSQL pools, blob and
subject-key stores, the keystore, the personal-data vault) ← ``services`` (the application
services every entry point calls). ``errors`` and ``encoding`` are the shared foundation of all
four. ``ledger`` imports nothing of ``projections``, ``anchors``, ``api`` or ``kiosk``.
"""
