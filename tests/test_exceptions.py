"""``aioavatar.exceptions``, the error tree: pickling, plain data, the stdlib bases, and what the text says."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from aioavatar import (
    APIError,
    AuthenticationError,
    AvatarError,
    ConfigurationError,
    EndReason,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitedError,
    RequestTimeout,
    ResponseDecodeError,
    ServerError,
    SessionEndedError,
    SessionStopError,
    TransportError,
    ValidationError,
)

COMMON = {
    "method": "POST",
    "path": "/v1/sessions/start",
    "status": 500,
    "code": 4000,
    "request_id": "r-1",
}

ERRORS: list[AvatarError] = [
    AvatarError("base"),
    ConfigurationError("must be a UUID", field="avatar_id"),
    TransportError("cannot connect", method="POST", path="/v1/sessions/token"),
    RequestTimeout("no answer within 5 s", method="POST", path="/v1/sessions/token"),
    APIError("boom", **COMMON),  # type: ignore[arg-type]
    AuthenticationError("bad key", **COMMON),  # type: ignore[arg-type]
    NotFoundError("gone", **COMMON),  # type: ignore[arg-type]
    ValidationError("bad", detail=[{"loc": ["body", "x"], "msg": "m", "type": "t"}], **COMMON),
    RateLimitedError("slow", retry_after=3.0, **COMMON),
    ServerError("down", **COMMON),  # type: ignore[arg-type]
    ResponseDecodeError("not JSON", method="GET", path="/v1/sessions", status=200, request_id="r"),
    SessionEndedError("3c90c3cc-0d44-4b50-8888-8dd25736052a", EndReason.IDLE_TIMEOUT),
    SessionEndedError("3c90c3cc-0d44-4b50-8888-8dd25736052a", EndReason("NEW_REASON")),
    SessionStopError("3c90c3cc-0d44-4b50-8888-8dd25736052a", "timeout"),
    InsufficientCreditsError(Decimal("1.5000"), Decimal(2), "FULL"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_pickles_with_its_data(error: AvatarError) -> None:
    """Each error survives pickle with its message and every attribute."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_hierarchy_mixes_in_stdlib_bases() -> None:
    """Users catch ValueError and TimeoutError where they expect them."""
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(RequestTimeout, TimeoutError)
    assert issubclass(RequestTimeout, TransportError)
    for cls in (AuthenticationError, NotFoundError, ValidationError, RateLimitedError, ServerError):
        assert issubclass(cls, APIError)


def test_api_error_text_has_status_code_message_and_request_id() -> None:
    """The text names everything a user needs to act on."""
    text = str(APIError("Concurrent limit reached", **COMMON))  # type: ignore[arg-type]
    for part in ("POST", "/v1/sessions/start", "500", "4000", "Concurrent limit reached", "r-1"):
        assert part in text


@pytest.mark.parametrize(("status", "gone"), [(404, True), (410, True), (400, False), (500, False)])
def test_session_gone_is_404_or_410(status: int, gone: bool) -> None:
    """The one place that says "the session has already ended": a stop or end answered 404 or 410
    is a session stopped elsewhere, not a failure (both providers read it from here)."""
    error = APIError("x", method="POST", path="/v1/sessions/stop", status=status)
    assert error.session_gone is gone
