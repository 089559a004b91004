"""The public error tree of aioavatar.

::

    AvatarError
    ├── ConfigurationError (ValueError)    bad input, raised before any network call
    ├── TransportError                     the request did not get an HTTP answer
    │   └── RequestTimeout (TimeoutError)  ... because a timeout ran out
    ├── APIError                           the server answered with an error
    │   ├── AuthenticationError            401 / 403
    │   ├── NotFoundError                  404
    │   ├── ValidationError                422 (``detail`` holds the parsed FastAPI list)
    │   ├── RateLimitedError               429 (``retry_after`` in seconds, when sent)
    │   └── ServerError                    5xx, whatever the body
    ├── ResponseDecodeError                a 2xx body that is not what the schema says
    ├── InsufficientCreditsError           the balance cannot pay one minute (check_credits=True)
    ├── SessionEndedError                  the server ended a running session
    └── SessionStopError                   a stop could not be confirmed: the session may still run

Every error carries plain data only (method, path, status, code, message, request id, session id) and
survives ``pickle``. None holds a response object, a header, an API key or a session token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

    from ._enums import EndReason

__all__ = [
    "APIError",
    "AuthenticationError",
    "AvatarError",
    "ConfigurationError",
    "InsufficientCreditsError",
    "NotFoundError",
    "RateLimitedError",
    "RequestTimeout",
    "ResponseDecodeError",
    "ServerError",
    "SessionEndedError",
    "SessionStopError",
    "TransportError",
    "ValidationError",
]


def _rebuild(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]
) -> BaseException:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class AvatarError(Exception):
    """Base class of every error raised by aioavatar."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default exception pickling; rebuild from state.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigurationError(AvatarError, ValueError):
    """Invalid input, detected before any network call.

    Attributes:
        field: the dotted name of the offending field (``"avatar_persona.voice_settings.speed"``),
            or ``None`` when the rule spans several fields.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class TransportError(AvatarError):
    """The request got no HTTP answer: connection refused or dropped, DNS failure, TLS failure.

    Attributes:
        method: the HTTP method.
        path: the request path (no host, no query string).
        url: the URL requested (the client's base URL and the path; no query string).
        sent: whether the request may have reached the server (``False`` only when no connection
            could be had: then the server surely saw nothing).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        url: str = "",
        sent: bool = True,
    ) -> None:
        super().__init__(f"{method} {url or path}: {message}" if method else message)
        self.method = method
        self.path = path
        self.url = url or path
        self.sent = sent


class RequestTimeout(TransportError, TimeoutError):
    """A request (connecting, waiting for a pooled connection, or reading the answer) timed out."""


class APIError(AvatarError):
    """The server answered with an error.

    Raised as such for a 2xx answer whose envelope ``code`` is neither 100 nor 1000, and for statuses without
    a more specific subclass.

    Attributes:
        method: the HTTP method.
        path: the request path (no host, no query string).
        url: the URL requested (the client's base URL and the path; no query string).
        status: the HTTP status.
        code: the envelope ``code`` when the body carried one.
        message: the server's message, when the body carried one.
        request_id: the server's request id header, when sent.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        method: str = "",
        path: str = "",
        status: int = 0,
        code: int | None = None,
        request_id: str | None = None,
        url: str = "",
    ) -> None:
        parts = [f"{method} {url or path} -> HTTP {status}"]
        if code is not None:
            parts.append(f"code {code}")
        text = ", ".join(parts)
        if message:
            text += f": {message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)
        self.method = method
        self.path = path
        self.url = url or path
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def session_gone(self) -> bool:
        """Whether the answer says the session no longer exists (404 or 410): already ended."""
        return self.status in (404, 410)


class AuthenticationError(APIError):
    """401 or 403: the API key, session token or KS is missing, wrong, or not allowed to do this."""


class NotFoundError(APIError):
    """404: no such session (or resource)."""


class ValidationError(APIError):
    """422: the server rejected the request body.

    Attributes:
        detail: the FastAPI ``detail`` list as sent (each item a dict with ``loc``, ``msg``, ``type``).
    """

    def __init__(
        self, message: str | None = None, *, detail: list[dict[str, Any]] | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.detail = detail or []


class RateLimitedError(APIError):
    """429: too many requests.

    Attributes:
        retry_after: the seconds the server asked us to wait, when it said so in a usable form.
    """

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed, whatever its body said."""


class ResponseDecodeError(AvatarError):
    """A 2xx answer whose body is not what the schema says: not JSON, truncated, wrong shape, missing fields,
    or larger than the response size cap.

    Attributes:
        method, path, url, status, request_id: as for :class:`APIError`.
        session_id: the session an answer that opens one named, when the rest of it could not be
            read (Kaltura's create answered with an id but no usable token): that session may run.
            ``None`` otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int = 0,
        request_id: str | None = None,
        url: str = "",
        session_id: str | None = None,
    ) -> None:
        super().__init__(
            f"{method} {url or path} -> HTTP {status}: {message}" if method else message
        )
        self.method = method
        self.path = path
        self.url = url or path
        self.status = status
        self.request_id = request_id
        self.session_id = session_id


class InsufficientCreditsError(AvatarError):
    """The account's balance cannot pay for one minute of the session asked for: raised by a session
    made with ``check_credits=True`` before anything is created (the server would refuse the start).

    Attributes:
        credits_left: the balance read, as the server counts it (a ``Decimal``).
        required: the credits one minute of ``mode`` costs.
        mode: the session's mode (``"FULL"`` or ``"LITE"``).
    """

    def __init__(self, credits_left: Decimal, required: Decimal, mode: str) -> None:
        super().__init__(
            f"the account has {credits_left} credits left; a {mode} session needs {required} "
            "for its first minute"
        )
        self.credits_left = credits_left
        self.required = required
        self.mode = mode


class SessionEndedError(AvatarError):
    """A running session ended under its block: the server ended it, or the SDK stopped it itself (at
    its ``max_session_duration``, after its idle window, or once the connection it relied on was lost).

    Raised by ``async with`` after the body was cancelled.

    Attributes:
        session_id: the session that ended.
        end_reason: why, as far as the SDK could tell (``EndReason.UNKNOWN`` when it could not).
    """

    def __init__(self, session_id: str, end_reason: EndReason) -> None:
        super().__init__(f"session {session_id} ended: {end_reason.value}")
        self.session_id = session_id
        self.end_reason = end_reason


class SessionStopError(AvatarError):
    """The stop of a session could not be confirmed: the session may still be running (and billing).

    The original failure is chained as ``__cause__``.

    Attributes:
        session_id: the session whose stop failed; stop it later or let the server's idle timeout end it.
    """

    def __init__(self, session_id: str, detail: str) -> None:
        super().__init__(f"stopping session {session_id} failed: {detail}; it may still be running")
        self.session_id = session_id
