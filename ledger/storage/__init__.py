"""Storage adapters outside the chain: storage URLs, PostgreSQL pools, blobs, keys, the vault.

Layer: ledger storage (adapters). ``urls`` turns ``sqlite:///…``/``postgresql://…`` into
eventsourcing settings and picks the chained recorders; ``pg_pool`` shares connections;
``materials`` is the content-addressed blob store; ``subject_keys`` and ``privacy`` keep
per-subject data keys and seal personal data (AES-GCM); ``keystore`` holds actors' private keys
on disk, never in the database; ``sqlite_tx`` is the one SQLite transaction wrapper that the
SQLite-file stores share (the anchors' tree and node stores too). May import ``ledger.chain``,
``ledger.domain`` and the foundation.
"""
