"""Read models built from the ledger's notification log, and archive packages.

Layer: projections. Tracked views (progress, worklists, supervision, certificates, ratings,
blacklist, indicators, kiosk fleet, archive index) that store their position in the same
transaction as their rows, and ``archive``: single-set archive packages, a projection of one
case's history with its proof bundle. May import ``ledger`` and ``anchors`` only.
"""
