"""What the HTTP layer holds for one ``caseledger serve`` process.

Layer: api (HTTP). Built by the composition root and stored on ``app.state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from api.bootstrap import Runtime
from api.tokens import TokenStore


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "caseledger_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "caseledger_http_request_seconds", "HTTP request latency", ["route"], registry=r
        )
        self.chain_head = Gauge("caseledger_chain_head", "Chain head sequence", registry=r)
        self.view_lag = Gauge(
            "caseledger_view_lag_events", "Events a read model is behind", ["view"], registry=r
        )


@dataclass
class ApiContext:
    runtime: Runtime
    tokens: TokenStore
    metrics: Metrics = field(default_factory=Metrics)
    services: dict[str, Any] = field(default_factory=dict)
    views: dict[str, Any] = field(default_factory=dict)
    max_body_bytes: int = 1 << 20
    workers: int = 1
    """The HTTP worker processes serving this port (``serve --workers``): per-client limits
    are divided among them (``RateLimiter.shared``)."""
