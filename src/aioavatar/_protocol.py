"""Sans-I/O: decoding answers and mapping HTTP statuses to exceptions. No aiohttp here.

Everything in this module is a pure function of bytes, status and a few header values, so it is tested
without a network. The transport hands it a :class:`RawResponse`; it hands back data or raises.
"""

from __future__ import annotations

import email.utils
import json
import math
import secrets
import time
from collections.abc import Mapping
from typing import Any

import attrs

from .exceptions import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    ResponseDecodeError,
    ServerError,
    ValidationError,
)

__all__ = [
    "SUCCESS_CODES",
    "RawResponse",
    "decode_envelope",
    "decode_success",
    "encode_multipart",
    "error_for_status",
    "load_json",
    "parse_retry_after",
    "server_message",
]

#: Envelope codes that mean success: the schema's default (100) and what the live API sends (1000).
SUCCESS_CODES = frozenset({100, 1000})


@attrs.frozen
class RawResponse:
    """What the transport read: the status, the body and the few headers the protocol needs.

    Deliberately holds no header mapping: headers carry cookies and echoes of credentials.
    """

    method: str
    path: str
    status: int
    body: bytes = attrs.field(repr=False)
    content_type: str = ""
    request_id: str | None = None
    retry_after: str | None = None
    location: str | None = None


def load_json(response: RawResponse) -> Any:
    """Parse the body as JSON.

    Raises:
        ResponseDecodeError: the body is empty, not JSON or truncated JSON.
    """
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "an empty body" if not response.body.strip() else "a body that is not valid JSON"
        ct = f" ({response.content_type})" if response.content_type else ""
        raise _decode_error(response, f"expected JSON, got {kind}{ct}") from exc


def _decode_error(response: RawResponse, message: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        message,
        method=response.method,
        path=response.path,
        status=response.status,
        request_id=response.request_id,
    )


def decode_envelope(response: RawResponse) -> Any:
    """Return ``data`` of a LiveAvatar ``{code, data, message}`` answer, or raise the matching error.

    Success is a 2xx status with ``code`` 100 or 1000 (a missing ``code`` counts as the schema's default,
    100).

    Raises:
        APIError: (or a subclass) for a non-2xx status or an envelope code that is not a success.
        ResponseDecodeError: for a 2xx body that is not a JSON object.
    """
    if not 200 <= response.status < 300:
        raise error_for_status(response)
    body = load_json(response)
    if not isinstance(body, Mapping):
        raise _decode_error(response, f"expected a JSON object, got {type(body).__name__}")
    code = body.get("code", 100)
    if code not in SUCCESS_CODES:
        raise APIError(
            server_message(body) or "the envelope code is not a success",
            method=response.method,
            path=response.path,
            status=response.status,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            request_id=response.request_id,
        )
    return body.get("data")


def decode_success(response: RawResponse) -> Mapping[str, Any]:
    """Return the body of a Kaltura Avatar ``{"success": true, ...}`` answer, or raise the matching error.

    Success is a 2xx status *and* ``success: true`` in the body: the host sometimes answers HTTP 200 with
    ``{"success": false, "error": "..."}``, which is an error like any other.

    Raises:
        APIError: (or a subclass) for a non-2xx status, or a 2xx body whose ``success`` is not ``true``
            (then with the 2xx status and the body's ``error`` as message).
        ResponseDecodeError: for a 2xx body that is not a JSON object.
    """
    if not 200 <= response.status < 300:
        raise error_for_status(response)
    body = load_json(response)
    if not isinstance(body, Mapping):
        raise _decode_error(response, f"expected a JSON object, got {type(body).__name__}")
    if body.get("success") is not True:
        raise APIError(
            server_message(body) or "the answer does not say success",
            method=response.method,
            path=response.path,
            status=response.status,
            request_id=response.request_id,
        )
    return body


def encode_multipart(
    fields: Mapping[str, str], files: Mapping[str, tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """Encode a ``multipart/form-data`` body: the text ``fields``, then the ``files``.

    ``files`` maps a field name to ``(filename, content type, content)``. Quotes and line breaks in names
    and filenames are percent-encoded, as browsers do. Returns the body and its ``Content-Type`` value.
    """

    def quoted(text: str) -> str:
        return text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")

    parts: list[tuple[str, bytes]] = [
        (f'Content-Disposition: form-data; name="{quoted(name)}"', value.encode())
        for name, value in fields.items()
    ]
    for name, (filename, content_type, content) in files.items():
        disposition = f'form-data; name="{quoted(name)}"; filename="{quoted(filename)}"'
        headers = f"Content-Disposition: {disposition}\r\nContent-Type: {quoted(content_type)}"
        parts.append((headers, content))
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in content for _, content in parts):  # pragma: no cover - 2**-128
        boundary = secrets.token_hex(16)
    dash = f"--{boundary}".encode()
    chunks: list[bytes] = []
    for headers, content in parts:
        chunks += [dash, b"\r\n", headers.encode(), b"\r\n\r\n", content, b"\r\n"]
    chunks += [dash, b"--\r\n"]
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def decode_failure(response: RawResponse, message: str) -> ResponseDecodeError:
    """The error for a 2xx body whose ``data`` does not fit its model."""
    return _decode_error(response, message)


def server_message(body: Any) -> str | None:
    """Find the human message in any of the error shapes the API has been seen to send."""
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping):
                nested = server_message(value)
                if nested:
                    return nested
        data = body.get("data")
        if isinstance(data, list) and data:
            return server_message(data[0])
        detail = body.get("detail")
        if isinstance(detail, list) and detail:
            return "; ".join(_validation_text(item) for item in detail[:5])
    return None


def _validation_text(item: Any) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc if part != "body") if isinstance(loc, list) else ""
    msg = item.get("msg", "invalid")
    return f"{where}: {msg}" if where else str(msg)


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
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None or moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


_STATUS_ERRORS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitedError,
}


def error_for_status(response: RawResponse) -> APIError:
    """The typed error for a non-2xx answer, with status, the server's code and message, and request id.

    Never raises while parsing: a body that is not JSON (an HTML error page) still gives the typed error,
    with a short excerpt as the message.
    """
    try:
        body: Any = json.loads(response.body) if response.body else None
    except (ValueError, UnicodeDecodeError):
        body = None
    message = server_message(body)
    if message is None and response.body:
        message = _excerpt(response)
    raw_code = body.get("code") if isinstance(body, Mapping) else None
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    common: dict[str, Any] = {
        "method": response.method,
        "path": response.path,
        "status": response.status,
        "code": code,
        "request_id": response.request_id,
    }
    if 300 <= response.status < 400:
        host = _host(response.location)
        return APIError(f"refused to follow a redirect to {host}", **common)
    if response.status >= 500:
        return ServerError(message, **common)
    cls = _STATUS_ERRORS.get(response.status, APIError)
    if cls is ValidationError:
        detail = body.get("detail") if isinstance(body, Mapping) else None
        items = (
            [item for item in detail if isinstance(item, dict)] if isinstance(detail, list) else []
        )
        return ValidationError(message, detail=items, **common)
    if cls is RateLimitedError:
        return RateLimitedError(
            message, retry_after=parse_retry_after(response.retry_after), **common
        )
    return cls(message, **common)


def _excerpt(response: RawResponse, limit: int = 200) -> str:
    text = response.body[:limit].decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    what = response.content_type or "unknown content type"
    return f"non-JSON body ({what}): {text}" + ("..." if len(response.body) > limit else "")


def _host(location: str | None) -> str:
    if not location:
        return "an unnamed location"
    from urllib.parse import urlsplit

    host = urlsplit(location).hostname
    return host or "a relative location"
