"""``caseledger demo``: the project's shop window, one module per stage.

Layer: api (entry point). ``main`` runs the stages in order; each stage module drives one
capability through the same services the HTTP API and the CLI use.
"""
