"""A token bucket per client, against guessing serial numbers and verification codes.

Layer: api (HTTP). In memory, per process. ``caseledger serve --workers N`` runs N processes
on one port and the kernel spreads a client's connections among them, so each process holds
1/N of every limit (:meth:`RateLimiter.shared`): whatever the spread, a client gets at most
the stated rate and burst from the server as a whole. A refused request gets 429 with
``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from api.http.problems import Problem


@dataclass
class RateLimiter:
    """``rate`` requests per second per key, bursts up to ``burst``."""

    rate: float = 1.0
    burst: int = 10
    max_keys: int = 100_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def shared(cls, rate: float, burst: int, among: int) -> RateLimiter:
        """This process's part of a limit of ``rate`` per second and ``burst`` that ``among``
        worker processes enforce together (each on the connections the kernel hands it)."""
        among = max(1, among)
        return cls(rate=rate / among, burst=max(1, burst // among))

    def take(self, key: str, now: float | None = None) -> None:
        """Spend one token for ``key``; raises a 429 Problem when none is left."""
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), t))
            tokens = min(float(self.burst), tokens + (t - last) * self.rate)
            if tokens < 1.0:
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise Problem(
                    429,
                    "Too many requests",
                    "slow down: too many queries from this client",
                    code="rate-limited",
                    retry_after=wait,
                )
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory; a flood resets everyone's bucket
            self._buckets[key] = (tokens - 1.0, t)
