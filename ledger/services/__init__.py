"""Application services: the one use-case surface that HTTP, the CLI and the kiosk call.

Layer: ledger services. ``application`` is the eventsourcing application over the chained
recorder; ``cases`` drives the case lifecycle; ``domain_services`` the e-certificates,
ratings, appointments, consultations, blacklist and supervision orders; ``numbering`` and
``idempotency`` serve them. May import every other ledger layer; nothing outside ``ledger``.
"""
