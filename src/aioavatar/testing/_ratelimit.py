"""Rate limiting as LiveAvatar documents it: per caller and per endpoint, in fixed one-second windows.

A caller is the credential a request shows (the API key, or a session token for per-session calls), so
thousands of sessions keeping alive with their own tokens each have their own budget. Path parameters
are ignored: the endpoint is the unit.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["WINDOW", "RateLimiter", "retry_after"]

#: Seconds in one window. Windows are fixed: they start at whole multiples of it on the monotonic clock.
WINDOW: Final = 1.0


class RateLimiter:
    """Counts requests per (caller, endpoint) in the current fixed window.

    Args:
        limit: requests allowed per caller, per endpoint, per window; ``None`` for no limit.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}

    def hit(self, caller: str, endpoint: str, now: float) -> float | None:
        """Count one request at ``now``; ``None`` when it is allowed, else the seconds left in the
        window (the request is over the limit, and is not counted)."""
        if self.limit is None:
            return None
        window = math.floor(now / WINDOW)
        key = (caller, endpoint)
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            count = 0
        if count >= self.limit:
            return (window + 1) * WINDOW - now
        self._windows[key] = (window, count + 1)
        return None


def retry_after(seconds_left: float) -> str:
    """``Retry-After`` for ``seconds_left`` in the window: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds_left)))
