"""The HTTP API: one router per resource, problem details, auth dependencies, the dashboard.

Layer: api (entry point). ``app`` assembles the routers; ``command`` is the one path from a
validated request to a service call and its answer; ``problems`` is the one place that maps
errors to HTTP. ``routes_kiosk`` mounts the kiosk's pages (``kiosk.pages``) on this app.
"""
