"""``caseledger serve``: the app of one HTTP process, its background workers and supervision.

Layer: api (entry point). ``app`` builds the FastAPI app and its read-model follower,
``anchoring`` the anchoring worker, ``workers`` runs N HTTP processes on one socket.
"""
