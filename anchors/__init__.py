"""Anchoring: the RFC 9162 Merkle tree, C2SP checkpoints and notes, proof bundles, the node.

Layer: anchors. ``merkle`` and ``note`` are exact, dependency-free spec libraries; ``tree``,
``checkpoints``, ``worker``, ``bundle``, ``recorded``, ``policy_check`` and ``anchored_verify``
work on the ledger's chain; ``policy``, ``supersession`` and ``receipt`` are the auditor's trust
roots and what they verify; ``node`` is the simulated municipal blockchain node, its own
process and store. May import ``ledger`` only.
"""
