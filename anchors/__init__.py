"""Anchoring: the RFC 9162 Merkle tree, C2SP checkpoints and notes, proof bundles, the node.

Layer: anchors. ``merkle`` and ``note`` are exact, dependency-free spec libraries; ``tree``,
``checkpoints``, ``worker``, ``bundle`` and ``anchored_verify`` work on the ledger's chain;
``node`` is the simulated municipal blockchain node, its own process and store. May import
``ledger`` only.
"""
