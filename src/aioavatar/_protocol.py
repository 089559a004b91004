"""Sans-I/O: decoding answers and mapping HTTP statuses to exceptions. No aiohttp here.

Everything in this module is a pure function of bytes, status and a few header values, so it is tested
without a network. The transport hands it a :class:`RawResponse`; it hands back data or raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from ._json import TooDeep, parse_json
from ._logging import redact
from ._response import RawResponse
from ._retry import parse_retry_after
from ._secret import mask_text
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
    "decode_envelope",
    "decode_success",
    "error_for_status",
    "load_json",
    "map_strings",
    "mask_json",
    "server_message",
]

#: Envelope codes that mean success: the schema's default (100) and what the live API sends (1000).
SUCCESS_CODES = frozenset({100, 1000})


def load_json(response: RawResponse, *, mask: bool = True) -> Any:
    """Parse the body as JSON, with every credential of ``response.credentials`` masked in it
    (``mask=False``: as sent, for a caller that only checks it and masks whatever error it raises).

    Raises:
        ResponseDecodeError: the body is empty, not JSON, truncated JSON, or nested too deeply to read.
    """
    if response.body_problem is not None:
        raise _decode_error(response, response.body_problem)
    try:
        value = parse_json(response.body)
    except ValueError as exc:
        # Not chained: the JSON error holds the whole body.
        if isinstance(exc, TooDeep):
            raise _decode_error(response, "expected JSON, got a body nested too deeply") from None
        kind = "an empty body" if not response.body.strip() else "a body that is not valid JSON"
        ct = f" ({response.content_type})" if response.content_type else ""
        raise _decode_error(response, f"expected JSON, got {kind}{ct}") from None
    if mask and response.credentials and _may_echo(response, value):
        value = mask_json(value, response.credentials)
    return value


def _may_echo(response: RawResponse, value: Any) -> bool:
    """Whether a credential of the request is in the body, byte for byte or behind JSON escapes
    (``\\/``, ``\\u0041``). Both searches run in C: a byte search of the body, and, only when the body
    holds an escape, a search of the decoded value written back without escapes."""
    body = response.body
    # find(), not `in`: for bytes, `in` first tries the needle as an integer, and builds and drops
    # a TypeError (with its formatted message) on every search.
    for credential in response.credentials:  # a loop, not any(<generator>): every answer pays it
        if body.find(credential.encode()) >= 0:
            return True
    # A zero byte among the first four: UTF-16 or UTF-32, which json.loads reads too (RFC 8259's
    # detection), where no UTF-8 search finds a credential.
    if body.find(b"\\") < 0 and body.find(b"\x00", 0, 4) < 0:
        return False
    try:
        plain = json.dumps(value, ensure_ascii=False)
    except RecursionError:  # nested nearly as deep as the parser allows: masked (iteratively)
        return True
    return any(json.dumps(c, ensure_ascii=False)[1:-1] in plain for c in response.credentials)


def mask_json(value: Any, credentials: tuple[str, ...] | list[str]) -> Any:
    """A decoded JSON value with ``credentials`` masked in every string (keys included)."""
    return map_strings(value, lambda text: mask_text(text, credentials))


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A decoded JSON value with ``change`` applied to every string (keys included); iterative, so
    that the deepest value ``json.loads`` accepts cannot exhaust the stack."""
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = change(item)
        elif isinstance(item, list):
            stack.extend((item, index) for index in range(len(item)))
        elif isinstance(item, dict):
            changed = {change(k): v for k, v in item.items()}
            container[key] = changed
            stack.extend((changed, k) for k in changed)
    return root[0]


def _decode_error(
    response: RawResponse, message: str, session_id: str | None = None
) -> ResponseDecodeError:
    return ResponseDecodeError(message, **response.error_fields(), session_id=session_id)


def _success_object(response: RawResponse, data_used: bool) -> Mapping[str, Any] | None:
    """The JSON object of a 2xx answer; ``None`` for an empty one whose data is not used.

    Raises:
        APIError: for a status that is not 2xx. ResponseDecodeError: for a body that is not an object.
    """
    if not 200 <= response.status < 300:
        raise error_for_status(response)
    if not data_used and response.body_problem is None and not response.body.strip():
        return None  # a body too big or unreadable is no empty body: load_json raises
    # An answer whose data is not used is only checked: nothing of it reaches the caller but an
    # error, whose text the client masks (ProviderClient._send), so it is not masked here.
    body = load_json(response, mask=data_used)
    # JSON objects are dicts: the ABC check only for anything else.
    if type(body) is not dict and not isinstance(body, Mapping):
        raise _decode_error(response, f"expected a JSON object, got {type(body).__name__}")
    return body


def _masked_for_message(response: RawResponse, body: Mapping[str, Any], data_used: bool) -> Any:
    """The body of an answer that was only checked (left unmasked), masked before its message is
    cut to length: a cut would leave part of a credential that no mask matches."""
    return body if data_used else mask_json(body, response.credentials)


def decode_envelope(response: RawResponse, data_used: bool = True) -> Any:
    """Return ``data`` of a LiveAvatar ``{code, data, message}`` answer, or raise the matching error.

    Success is a 2xx status with ``code`` 100 or 1000 (a missing ``code`` counts as the schema's default,
    100). For a call whose ``data`` is not used (``data_used=False``: keep-alive, stop), a 2xx with no
    body at all (a 204, say) is a success too.

    Raises:
        APIError: (or a subclass) for a non-2xx status or an envelope code that is not a success.
        ResponseDecodeError: for a 2xx body that is not a JSON object.
    """
    body = _success_object(response, data_used)
    if body is None:
        return None
    code = body.get("code", 100)
    try:
        success = code in SUCCESS_CODES
    except TypeError:  # a list or an object: unhashable, and no success code
        success = False
    if not success:
        # Rebound before the raise: a traceback that shows each frame's locals shows them masked.
        body = _masked_for_message(response, body, data_used)
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        raise APIError(
            server_message(body) or "the envelope code is not a success",
            code=code,
            **response.error_fields(),
        )
    return body.get("data") if data_used else None


def decode_success(
    response: RawResponse,
    *,
    data_used: bool = True,
    flag_required: bool = True,
    opened: str | None = None,
) -> Mapping[str, Any]:
    """Return the body of a Kaltura Avatar ``{"success": true, ...}`` answer, or raise the matching error.

    Success is a 2xx status *and* ``success: true`` in the body: the host sometimes answers HTTP 200 with
    ``{"success": false, "error": "..."}``, which is an error like any other. For a call whose answer
    is not used (``data_used=False``: keep-alive, end, speech), a 2xx with no body at all (a 204, say) is
    a success too.

    Raises:
        APIError: (or a subclass) for a non-2xx status, or a 2xx body whose ``success`` is not ``true``
            (then with the 2xx status and the body's ``error`` as message).
        ResponseDecodeError: for a 2xx body that is not a JSON object.

    With ``flag_required=False`` (the catalog, whose answers do not all carry it) a body without
    ``success`` is a success too; ``success: false`` is still an error. A body naming the key
    ``opened`` (create's ``sessionId``) opened what it names: it is a success unless it says
    ``success: false`` (a flag missing or written as text would leave a running session unended);
    so is a 5xx or 404 answer that names it (a session id, with ``success`` true or not given): the
    server opened it all the same. Any other refusal (401, 403, 409...) stays one, whatever it names.
    """
    try:
        body = _success_object(response, data_used)
    except APIError:
        body = _naming(response, opened) if opened is not None else None
        if body is None:
            raise
    if body is None:
        return {}
    flag = body.get("success")
    refused = flag is not True and (flag_required or flag is not None)
    if refused and opened is not None and flag is not False and opened in body:
        refused = False
    if refused:
        body = _masked_for_message(response, body, data_used)  # as in decode_envelope
        del flag
        raise APIError(
            server_message(body) or "the answer does not say success", **response.error_fields()
        )
    return body if data_used else {}


def _naming(response: RawResponse, key: str) -> Mapping[str, Any] | None:
    """The JSON object of a 5xx or 404 answer that names a session under ``key`` (a string that is
    not empty) with ``success`` true or not given, else ``None``."""
    if response.status < 500 and response.status != 404:
        return None
    try:
        body = load_json(response)
    except ResponseDecodeError:
        return None
    if not isinstance(body, Mapping) or body.get("success", True) is not True:
        return None
    named = body.get(key)
    return body if isinstance(named, str) and named else None


def decode_failure(
    response: RawResponse, message: str, session_id: str | None = None
) -> ResponseDecodeError:
    """The error for a 2xx body whose ``data`` does not fit its model (``session_id``: the session
    it named, when it opens one)."""
    return _decode_error(response, message, session_id)


#: The longest server message an error keeps, in characters.
MAX_MESSAGE = 500


def server_message(body: Any, _depth: int = 0) -> str | None:
    """Find the human message in any of the error shapes the API has been seen to send (looking at
    most three objects deep, and keeping at most ``MAX_MESSAGE`` characters)."""
    if isinstance(body, Mapping) and _depth < 3:
        for key in ("message", "error", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return _clip(value)
            if isinstance(value, Mapping):
                nested = server_message(value, _depth + 1)
                if nested:
                    return nested
        data = body.get("data")
        if isinstance(data, list) and data:
            return server_message(data[0], _depth + 1)
        detail = body.get("detail")
        if isinstance(detail, list) and detail:
            return _clip("; ".join(_validation_text(item) for item in detail[:5]))
    return None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _validation_text(item: Any) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    loc = item.get("loc")
    where = (
        ".".join(str(part) for part in loc if isinstance(part, str | int) and part != "body")
        if isinstance(loc, list)
        else ""
    )
    msg = item.get("msg")
    msg = msg if isinstance(msg, str) else "invalid"
    return f"{where}: {msg}" if where else msg


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
        body: Any = load_json(response) if response.body.strip() else None
    except ResponseDecodeError:
        body = None
    message = server_message(body)
    if message is None and response.body:
        message = _excerpt(response, parsed=body is not None)
    if message is None and response.body_problem is not None:
        message = response.body_problem
    raw_code = body.get("code") if isinstance(body, Mapping) else None
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    common: dict[str, Any] = {**response.error_fields(), "code": code}
    if 300 <= response.status < 400:
        host = _host(response.location)
        return APIError(f"refused to follow a redirect to {host}", **common)
    if response.status >= 500:
        return ServerError(message, **common)
    cls = _STATUS_ERRORS.get(response.status, APIError)
    if cls is ValidationError:
        detail = body.get("detail") if isinstance(body, Mapping) else None
        items = [_detail_item(item) for item in detail[:50]] if isinstance(detail, list) else []
        return ValidationError(message, detail=[item for item in items if item], **common)
    if cls is RateLimitedError:
        return RateLimitedError(
            message, retry_after=parse_retry_after(response.retry_after), **common
        )
    return cls(message, **common)


def _detail_item(item: Any) -> dict[str, Any]:
    """A FastAPI validation item reduced to plain, shallow data: ``loc``, ``msg``, ``type`` and flat
    ``ctx`` (``input`` is dropped: it echoes what was sent, secrets included)."""
    if not isinstance(item, Mapping):
        return {}
    kept: dict[str, Any] = {}
    loc = item.get("loc")
    if isinstance(loc, list):
        kept["loc"] = [part for part in loc[:20] if isinstance(part, str | int)]
    for key in ("msg", "type"):
        if isinstance(item.get(key), str):
            kept[key] = _clip(item[key])
    ctx = item.get("ctx")
    if isinstance(ctx, Mapping):
        kept["ctx"] = {
            str(k)[:100]: _clip(v) if isinstance(v, str) else v
            for k, v in list(ctx.items())[:20]
            if isinstance(v, str | int | float | bool)
        }
    return kept


_JSON_ESCAPE: Final = re.compile(r"\\u([0-9a-fA-F]{4})|\\/")


def _unescape(text: str) -> str:
    """JSON's ``\\uXXXX`` and ``\\/`` escapes resolved, so that an escaped echo is masked too."""
    return _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else "/", text)


def _excerpt(response: RawResponse, *, parsed: bool = False, limit: int = 200) -> str:
    text = response.body.decode("utf-8", errors="replace").replace("\x00", "")  # UTF-16 as UTF-8
    text = " ".join(_unescape(text).split())
    shown, whole = _masked_head(text, limit, response.credentials)
    what = response.content_type or "unknown content type"
    kind = "JSON body without a message" if parsed else "non-JSON body"
    ellipsis = "..." if len(shown) > limit or not whole else ""
    return f"{kind} ({what[:60]}): {shown[:limit]}{ellipsis}"


#: Kept back from the end of the part of an excerpt that is masked (no credential is this long).
_CUT_MARGIN: Final = 4096


def _masked_head(text: str, limit: int, credentials: tuple[str, ...]) -> tuple[str, bool]:
    """At least ``limit`` characters from the start of ``text`` masked (all of it, then ``True``).
    A long page is masked in a window (a tracked credential costs a lookup per character); one its
    end cuts is no credential to any mask, and shorter masks before it pull its first half forward:
    the window's last ``margin`` characters are left out (a window with too little left grows)."""
    margin = max(_CUT_MARGIN, 2 * max((len(c) for c in credentials), default=0))
    window = limit + 2 * margin
    while True:
        masked = redact(mask_text(text[:window], credentials))
        if window >= len(text):
            return masked, True
        if len(masked) - margin >= limit:
            return masked[: len(masked) - margin], False
        window *= 2


def _host(location: str | None) -> str:
    """A redirect's host as written, without user part or port (lower-cased, an echo escapes masks)."""
    if not location:
        return "an unnamed location"
    try:
        netloc = urlsplit(location).netloc
    except ValueError:  # an IPv6 literal left open, say
        return "a location that cannot be read"
    host = netloc.rpartition("@")[2]  # never the user part: it may carry a password
    host = host[: host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]
    return host or "a relative location"
