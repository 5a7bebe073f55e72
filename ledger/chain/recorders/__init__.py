"""Chained recorders: eventsourcing recorders whose insert path also writes the chain.

Layer: ledger chain (persistence) (edge). Each backend module subclasses the library's
application and process recorders; :mod:`ledger.chain.recorders.base` holds what they share.
"""
