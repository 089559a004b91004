"""Retry policy and the client-wide retry budget. Pure: no I/O, no clock of its own."""

from __future__ import annotations

import email.utils
import math
import random
import time
from enum import Enum
from typing import Any

import anyio
import attrs

from ._logging import logger
from ._validation import int_in, number_in, seconds_in
from .exceptions import ConfigurationError

__all__ = [
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "log_retry",
    "may_retry",
    "parse_retry_after",
    "waited_in_time",
]


class Retry(Enum):
    """Which failures an operation may be retried on, from what is safe for it.

    ``ALWAYS``: connection errors, timeouts and the retryable statuses (idempotent enough: token creation,
    keep-alive, stop, reads). ``IF_UNSENT``: only when the request surely never left the machine (the
    connection could not be opened); used for start, where a duplicate would open an orphan session.
    """

    ALWAYS = "always"
    IF_UNSENT = "if_unsent"


#: The most retries a policy may ask for: beyond this a call is a siege, not a retry.
MAX_RETRIES = 10


def _statuses(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, frozenset | set | tuple | list) or not all(
        isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599
        for status in value
    ):
        raise ConfigurationError(
            "must be a set of HTTP error statuses (integers from 400 to 599)", field=attribute.name
        )


def _frozen_statuses(value: Any) -> Any:
    if not isinstance(value, set | tuple | list):
        return value
    try:
        return frozenset(value)
    except TypeError:  # an unhashable item (a list, say): left for the validator to refuse
        return value


@attrs.frozen
class RetryPolicy:
    """How transient failures are retried: exponential backoff with full jitter.

    Attributes:
        retries: retries after the first attempt (2 by default: three attempts in all).
        backoff_initial: the first backoff ceiling in seconds; it doubles per retry ...
        backoff_max: ... up to this ceiling.
        retry_after_cap: a ``Retry-After`` up to this many seconds is honoured; a longer one fails fast with
            :class:`~aioavatar.RateLimitedError`.
        statuses: the HTTP statuses that are retried (never other 4xx).

    Raises:
        ConfigurationError: naming the field: ``retries`` not an integer from 0 to 10, a backoff that is
            not a number of seconds (0 to 60 initial, 0 to 300 maximum), a ``retry_after_cap`` outside
            0 to 3600 s, or statuses that are not HTTP error statuses. ``inf`` and ``NaN`` are refused.
    """

    retries: int = attrs.field(default=2, validator=int_in(0, MAX_RETRIES))
    backoff_initial: float = attrs.field(default=0.5, validator=seconds_in(0.0, 60.0))
    backoff_max: float = attrs.field(default=8.0, validator=seconds_in(0.0, 300.0))
    retry_after_cap: float = attrs.field(default=60.0, validator=seconds_in(0.0, 3600.0))
    statuses: frozenset[int] = attrs.field(
        default=frozenset({408, 409, 429, 500, 502, 503, 504}),
        converter=_frozen_statuses,
        validator=_statuses,
    )

    def backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (retry - 1))
        return random.uniform(0.0, ceiling)  # noqa: S311 - jitter, not cryptography


@attrs.define
class RetryBudget:
    """A token bucket shared by one client: each retry spends a token, each success refunds a fraction.

    When a thousand sessions meet the same outage, the bucket empties after ``capacity`` retries and the
    rest fail at once instead of multiplying the load on a struggling server. Successful calls refill it
    (``refund`` tokens each, so 10 successes buy one retry by default), never above ``capacity``.

    Attributes:
        capacity: the most retries that can be spent in a burst (50 by default).
        refund: the tokens each successful call gives back (0.1 by default).
        tokens: the tokens left (starts full).

    Raises:
        ConfigurationError: a ``capacity`` or ``refund`` that is not a number from 0 to 1,000,000.
    """

    capacity: float = attrs.field(default=50.0, validator=number_in(0.0, 1e6))
    refund: float = attrs.field(default=0.1, validator=number_in(0.0, 1e6))
    tokens: float = attrs.field(init=False)
    _warned: bool = attrs.field(default=False, init=False, repr=False, eq=False)  # said it's spent

    @tokens.default
    def _full(self) -> float:
        # Runs before the validators: a capacity that is not a number is refused by them, not here.
        try:
            return float(self.capacity)
        except (TypeError, ValueError, OverflowError):
            return 0.0

    def try_spend(self) -> bool:
        """Take one token for a retry; ``False`` when the budget is spent (said in a warning once
        per outage, not once per refused retry)."""
        if self.tokens < 1.0:
            if not self._warned:
                self._warned = True
                logger.warning("retry budget spent: not retrying (the API may be down)")
            return False
        self.tokens -= 1.0
        self._warned = False
        return True

    def on_success(self) -> None:
        """Refund part of a token after a successful call."""
        # Rounded so that ten refunds of 0.1 make a whole token (float sums fall just short of it).
        if self.tokens < self.capacity:  # a full budget (the usual case) costs nothing
            self.tokens = min(self.capacity, round(self.tokens + self.refund, 9))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date. Garbage gives ``None``."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
            if moment is None or moment.tzinfo is None:
                return None
            seconds = moment.timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError, OverflowError):  # a date no calendar has
            return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


async def waited_in_time(delay: float, deadline: float | None) -> bool:
    """Wait ``delay`` before a retry; whether the retry may still start: a loop that stalled in the
    wait (a blocking call, a long collection) may have carried it past ``deadline`` (a beat's: the
    next beat is due), and no attempt but the first starts after it."""
    await anyio.sleep(delay)
    if deadline is None or anyio.current_time() < deadline:
        return True
    logger.info("not retrying: the deadline passed during the %.2f s wait", delay)
    return False


def may_retry(
    policy: RetryPolicy,
    budget: RetryBudget,
    requests_after: int,
    delay: float,
    deadline: float | None,
    budgeted: bool,
) -> bool:
    """Whether to retry, when the retry would bring the requests sent to ``requests_after`` and
    wait ``delay`` first: within the policy's retries, starting before ``deadline``, and (for a
    ``budgeted`` call) paid from the budget."""
    if requests_after > policy.retries + 1:
        return False
    if deadline is not None and anyio.current_time() + delay >= deadline:
        return False
    return not budgeted or budget.try_spend()


def log_retry(method: str, path: str, attempt: int, why: str, delay: float) -> None:
    """The line of a retry about to wait ``delay``."""
    logger.info(
        "%s %s failed (%s), attempt %d; retrying in %.2f s", method, path, why, attempt, delay
    )
