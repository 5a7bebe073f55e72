"""The kiosk (自助终端): progress at the terminal, verified printouts, offline verification.

Layer: kiosk (top, beside ``api``). ``service`` holds the kiosk's use cases, ``claims`` and
``printing`` the COSE/QR printout and its PDF, ``verify`` checks a printout from paper, and
``pages`` renders the terminal's HTML. May import ``ledger``, ``anchors`` and ``projections``;
never ``api`` (``api.http.routes_kiosk`` mounts these pages on the HTTP app).
"""
