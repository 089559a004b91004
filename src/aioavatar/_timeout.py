"""``Timeout``: the time limits of one call, and the bounds every limit is checked against."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
import attrs

from ._validation import check_seconds, instance_of, optional, seconds_in

__all__ = ["MAX_TIMEOUT", "MIN_TIMEOUT", "Timeout", "resolve_timeout", "timeout_field"]

#: Every time limit of a call is within these bounds, in seconds: never 0, negative, infinite or NaN.
MIN_TIMEOUT = 0.001
MAX_TIMEOUT = 3600.0


@attrs.frozen
class Timeout:
    """Per-call time limits in seconds. ``total`` covers waiting for a pooled connection, connecting,
    sending and reading the whole answer; ``connect`` covers getting a connection (pool wait included;
    ``None``: only ``total`` bounds it).

    Raises:
        ConfigurationError: a limit that is not a number of seconds from 0.001 to 3600 (0, negative,
            ``inf``, ``NaN`` and non-numbers are refused: no limit here means "wait forever").
    """

    total: float = attrs.field(validator=seconds_in(MIN_TIMEOUT, MAX_TIMEOUT))
    connect: float | None = attrs.field(
        default=None, validator=optional(seconds_in(MIN_TIMEOUT, MAX_TIMEOUT))
    )
    #: The limit aiohttp keeps: ``connect``, on an exact timer (not rounded up to the second), so
    #: that a request that got no connection in time is known as never sent. The transport keeps
    #: ``total`` on its client's one timer (``_deadlines.py``). Built once, an attribute rather than
    #: a property (a call fewer on every request): a keep-alive's limits serve every beat.
    client_timeout: aiohttp.ClientTimeout = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        limits = aiohttp.ClientTimeout(connect=self.connect, ceil_threshold=math.inf)
        object.__setattr__(self, "client_timeout", limits)

    def less(self, seconds: float) -> Timeout:
        """These limits with ``seconds`` already spent (never below the floor)."""
        total = max(MIN_TIMEOUT, self.total - seconds)
        connect = None if self.connect is None else max(MIN_TIMEOUT, self.connect - seconds)
        return Timeout(total=total, connect=min(connect, total) if connect is not None else None)


def timeout_field(total: float, connect: float) -> Any:
    """An attrs field holding a :class:`Timeout`, ``Timeout(total, connect)`` by default (the per-operation
    defaults of the provider clients)."""
    return attrs.field(
        default=Timeout(total=total, connect=connect), validator=instance_of(Timeout)
    )


def resolve_timeout(given: float | Timeout | None, default: Timeout) -> Timeout:
    """A call's ``timeout``: ``default`` when not given, a :class:`Timeout` as is, seconds as its total.

    Raises:
        ConfigurationError: naming ``timeout``, for anything but a number of seconds from 0.001 to 3600.
    """
    if given is None:
        return default
    if isinstance(given, Timeout):
        return given
    if type(given) is float:  # a keep-alive passes the same seconds every beat: built once
        known = _SECONDS.get((given, default))
        if known is not None:
            return known
    total = check_seconds(given, "timeout", low=MIN_TIMEOUT, high=MAX_TIMEOUT)
    limits = Timeout(total=total, connect=min(total, default.connect or total))
    if type(given) is float and len(_SECONDS) < 256:
        _SECONDS[given, default] = limits
    return limits


_SECONDS: dict[tuple[float, Timeout], Timeout] = {}
