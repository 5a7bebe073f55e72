"""The simulated municipal trusted-blockchain node (anchors layer; its own process and store).

``keys`` (validator keys of the consortium), ``protocol`` (the add-checkpoint request format),
``store`` (the node's SQLite store and its start-up integrity check), ``service`` (verify,
cosign, seal blocks), ``app`` (FastAPI routes), ``client`` (the ledger side's HTTP client).
May import the anchors formats (``merkle``, ``note``, ``codec``, ``policy``, ``receipt``); the
node knows checkpoints, not the ledger behind them.
"""
