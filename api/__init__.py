"""Entry points: the HTTP API, the command line, the demo and ``serve``'s processes.

Layer: api, the outermost (with ``kiosk``). ``bootstrap`` is the one composition root;
``settings``, ``services``, ``tokens`` and ``sidedb`` are what every entry point shares;
``http`` (FastAPI routers), ``cli`` (argparse commands), ``demo`` (the shop window) and
``serve`` (the HTTP process and its workers) sit on them. May import every other package.
"""
