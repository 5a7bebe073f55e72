"""The hash chain: entries, Ed25519 signing, verification and the chained recorders.

Layer: ledger chain. ``entries`` links every stored event; ``signing`` and ``seals`` make and
check Ed25519 signatures (``pynacl``); ``verification`` replays the whole chain;
``recorders`` are eventsourcing's recorders with an insert path that writes the chain in the
same transaction (SQLite, PostgreSQL, group commit). May import ``ledger.domain`` and the
foundation (``ledger.errors``, ``ledger.encoding``); never storage adapters or services.
"""
