"""The ``caseledger`` command line: ``main`` parses, each module registers one command group.

Layer: api (entry point). May import every package; nothing imports it but ``python -m api.cli``
and the console script.
"""
