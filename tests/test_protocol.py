"""``aioavatar._protocol``, the sans-I/O layer: envelopes, status mapping and Retry-After, Kaltura's
``success`` flag and the multipart form of its audio, without a network."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import email.utils
import json
import sys
from typing import Any

import pytest

from aioavatar import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    ResponseDecodeError,
    ServerError,
    ValidationError,
)
from aioavatar._protocol import (
    decode_envelope,
    decode_success,
    error_for_status,
)
from aioavatar._request import encode_multipart
from aioavatar._response import RawResponse
from aioavatar._retry import parse_retry_after


def raw(status: int, body: object | bytes, **kw: Any) -> RawResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(method="POST", path="/v1/sessions/stop", status=status, body=data, **kw)


@pytest.mark.parametrize("code", [100, 1000])
def test_success_codes_return_data(code: int) -> None:
    """Both documented success codes unwrap ``data``."""
    assert decode_envelope(raw(200, {"code": code, "data": {"a": 1}, "message": "ok"})) == {"a": 1}


def test_other_code_on_200_is_an_api_error_with_code_and_message() -> None:
    """A 200 whose envelope code is not a success raises with the code and the server's message."""
    with pytest.raises(APIError) as info:
        decode_envelope(
            raw(200, {"code": 4001, "data": None, "message": "Concurrent limit reached"})
        )
    assert info.value.code == 4001
    assert info.value.status == 200
    assert info.value.message == "Concurrent limit reached"
    assert "Concurrent limit reached" in str(info.value)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (422, ValidationError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
        (400, APIError),
        (409, APIError),
    ],
)
def test_status_maps_to_type(status: int, cls: type[APIError]) -> None:
    """Each status gives its error type carrying status, code, message and request id."""
    error = error_for_status(
        raw(status, {"code": 4000, "message": "nope"}, request_id_header="req-1", retry_after="3")
    )
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.request_id) == (
        status,
        4000,
        "nope",
        "req-1",
    )
    assert error.method == "POST"
    assert error.path == "/v1/sessions/stop"


def test_rate_limited_carries_retry_after() -> None:
    """429 parses Retry-After seconds."""
    error = error_for_status(raw(429, {"message": "slow down"}, retry_after="2.5"))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 2.5


def test_validation_error_keeps_detail() -> None:
    """422 keeps FastAPI's detail list and summarises it in the message."""
    detail = [{"loc": ["body", "avatar_id"], "msg": "Input should be a valid UUID", "type": "uuid"}]
    error = error_for_status(raw(422, {"detail": detail}))
    assert isinstance(error, ValidationError)
    assert error.detail == detail
    assert error.message == "avatar_id: Input should be a valid UUID"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": "m1"}, "m1"),
        ({"error": "m2"}, "m2"),
        ({"error": {"message": "m3"}}, "m3"),
        ({"data": [{"message": "m4"}]}, "m4"),
        ({"detail": "m5"}, "m5"),
    ],
)
def test_error_message_shapes(body: dict[str, object], message: str) -> None:
    """Every error body shape seen in the wild yields the server's message."""
    assert error_for_status(raw(400, body)).message == message


def test_html_error_page_gives_server_error_with_excerpt() -> None:
    """A 502 HTML page is a ServerError whose message is a short excerpt, not a crash."""
    page = b"<html><body><h1>502 Bad Gateway</h1>" + b"x" * 1000 + b"</body></html>"
    error = error_for_status(raw(502, page, content_type_header="text/html"))
    assert isinstance(error, ServerError)
    assert error.message is not None
    assert "502 Bad Gateway" in error.message
    assert len(error.message) < 300


def test_redirect_is_refused_naming_the_host() -> None:
    """A 3xx is an error naming where it pointed."""
    error = error_for_status(raw(302, b"", location="https://evil.example/steal"))
    assert "evil.example" in str(error)


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"code": 1000, "data": {', b"[1, 2]", b"\xff\xfe"]
)
def test_bad_2xx_body_is_a_decode_error(body: bytes) -> None:
    """A 2xx body that is not a JSON object raises ResponseDecodeError with the status."""
    with pytest.raises(ResponseDecodeError) as info:
        decode_envelope(raw(200, body, content_type_header="application/json"))
    assert info.value.status == 200


def test_retry_after_forms() -> None:
    """Seconds, HTTP dates (relative to now) and garbage."""
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("-3") == 0.0
    date = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after(date, now=1_000_000.0) == pytest.approx(30.0)


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 01 Jan 2024 00:00:00 +99999999999999999999",
        "Mon, 01 Jan 99999999999 00:00:00 GMT",
        "Mon, 01 Jan 2024 99999999999999999999:00:00 GMT",
        "Mon, 01 Jan 2024 00:00:99999999999999999999 GMT",
    ],
)
def test_a_retry_after_date_no_calendar_has_is_garbage(value: str) -> None:
    """An HTTP date whose year, hour, second or zone overflows the calendar is garbage (``None``),
    not an ``OverflowError`` out of the retry loop."""
    assert parse_retry_after(value) is None


# --- hostile bodies -------------------------------------------------------------------------------

DEEP = b"[" * 200_000
DEEP_OBJECT = b'{"a": ' * 200_000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize("status", [200, 201, 400, 404, 422, 429, 500, 503])
def test_deeply_nested_json_is_a_typed_error_on_any_status(status: int, body: bytes) -> None:
    """200,000 levels of ``[[[[...`` or ``{"a": {"a": ...`` never escape as RecursionError: a 2xx
    is a ResponseDecodeError, an error status its APIError, with an excerpt instead of the
    server's message."""
    response = raw(status, body, content_type_header="application/json")
    if 200 <= status < 300:
        with pytest.raises(ResponseDecodeError, match="nested too deeply"):
            decode_envelope(response)
    else:
        error = error_for_status(response)
        assert error.status == status
        assert error.message is not None
        assert len(error.message) < 400


def test_json_nested_just_within_the_parsers_reach_is_typed_on_any_status() -> None:
    """An echo check of a body the parser just managed to read (nested up to its recursion limit,
    with an escape that sends the check to the decoded value) never raises ``RecursionError``: every
    depth up to the limit and past it gives data, a ResponseDecodeError or the status's error."""
    credentials = ("k" * 32,)
    limit = sys.getrecursionlimit()
    for depth in range(limit - 400, limit + 20):
        body = ('{"a":' * depth + '"\\n"' + "}" * depth).encode()
        with contextlib.suppress(ResponseDecodeError):  # data, or its absence: both typed
            decode_envelope(raw(200, body, credentials=credentials))
        error = error_for_status(raw(500, body, credentials=credentials))
        assert isinstance(error, ServerError)


def test_a_message_nested_deeper_than_three_objects_is_not_followed() -> None:
    """The message search looks three objects deep and keeps at most 500 characters."""
    nested: dict[str, object] = {"message": "x" * 5000}
    for _ in range(50):
        nested = {"error": nested}
    message = error_for_status(raw(500, nested)).message
    assert message is not None
    assert message.startswith("JSON body without a message")
    assert "x" * 10 not in message
    long = error_for_status(raw(500, {"message": "y" * 5000})).message
    assert long is not None
    assert len(long) == 500


def test_a_validation_detail_keeps_plain_shallow_fields_only() -> None:
    """``detail`` keeps ``loc``, ``msg``, ``type`` and flat ``ctx``; ``input`` (an echo of what was
    sent) and deep values are dropped, so the error stays small and picklable."""
    deep: list[object] = []
    for _ in range(500):
        deep = [deep]
    body = {
        "detail": [
            {
                "loc": ["body", "avatar_id", {"x": 1}],
                "msg": "bad",
                "type": "uuid_parsing",
                "input": "a secret value",
                "ctx": {"limit": 3, "nested": deep},
            },
            "not an item",
        ]
    }
    error = error_for_status(raw(422, body))
    assert isinstance(error, ValidationError)
    assert error.detail == [
        {"loc": ["body", "avatar_id"], "msg": "bad", "type": "uuid_parsing", "ctx": {"limit": 3}}
    ]


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_answer_is_a_success_where_data_is_not_used(status: int) -> None:
    """Keep-alive and stop ignore ``data``: a 204 (or a 200 with no body) is a success there, and a
    decode error where the answer must carry data."""
    response = raw(status, b"")
    assert decode_envelope(response, data_used=False) is None
    with pytest.raises(ResponseDecodeError):
        decode_envelope(response)


@pytest.mark.parametrize("problem", ["too big", "compressed unreadably"])
def test_an_unread_body_is_no_success_even_where_data_is_not_used(problem: str) -> None:
    """A 2xx whose body could not be read (it comes back empty, ``body_problem`` saying why) may
    carry a failure (``success: false``, an error code): a decode error, not the success of an
    empty answer."""
    response = raw(200, b"", body_problem=problem)
    with pytest.raises(ResponseDecodeError, match=problem):
        decode_envelope(response, data_used=False)
    with pytest.raises(ResponseDecodeError, match=problem):
        decode_success(kaltura_raw(200, b"", body_problem=problem), data_used=False)


def test_a_failure_of_a_call_whose_data_is_not_used_is_masked_before_it_is_cut() -> None:
    """The message of a failure is cut to 500 characters; a credential the cut splits is no
    credential to any mask, so the body is masked first."""
    secret = "sk_live_" + "0123456789abcdef" * 4
    failure = {"success": False, "code": 4001, "message": "p" * 480 + secret}
    for decode, answer in ((decode_envelope, raw), (decode_success, kaltura_raw)):
        with pytest.raises(APIError) as info:
            decode(answer(200, failure, credentials=(secret,)), data_used=False)
        assert secret[:12] not in str(info.value)


def test_an_answer_whose_data_is_not_used_gives_nothing_back() -> None:
    """Keep-alive, stop, end and speech only check their answer: nothing of its body is returned
    (so nothing of it needs masking on the hot path), though its code is still checked."""
    echo = b'{"code": 100, "data": {"token": "sk_live_secret"}}'
    creds = ("sk_live_secret",)
    assert decode_envelope(raw(200, echo, credentials=creds), data_used=False) is None
    with pytest.raises(APIError):
        decode_envelope(raw(200, b'{"code": 4001, "message": "no"}'), data_used=False)
    kaltura = b'{"success": true, "echo": "sk_live_secret"}'
    assert decode_success(kaltura_raw(200, kaltura), data_used=False) == {}


def test_credentials_are_masked_however_the_server_escaped_them() -> None:
    """A credential echoed JSON-escaped (``\\/``, ``\\u00XX``) is masked after decoding: in the
    message of an error, in an HTML excerpt, and in the data of a success."""
    secret = "sk/live+abc.def_123456"
    escaped = "".join(
        f"\\u{ord(c):04x}" if c in "sl" else ("\\/" if c == "/" else c) for c in secret
    )
    assert secret not in escaped
    creds = (secret,)
    as_json = f'{{"message": "key {escaped} refused"}}'.encode()
    error = error_for_status(raw(401, as_json, credentials=creds))
    assert secret not in str(error)
    assert "**********" in str(error)
    html = f"<p>{escaped}</p>".encode()
    page = error_for_status(raw(502, html, content_type_header="text/html", credentials=creds))
    assert secret not in str(page)
    success = f'{{"code": 1000, "data": {{"url": "wss://x?k={escaped}"}}}}'.encode()
    assert decode_envelope(raw(200, success, credentials=creds)) == {"url": "wss://x?k=**********"}


# --- Kaltura: success in the body, multipart audio -----------------------------------------------

KALTURA_MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8 + b"\r\n--\r\n"


def kaltura_raw(status: int, body: object | bytes, **kw: Any) -> RawResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(method="POST", path="/avatar-session/x/end", status=status, body=data, **kw)


def test_decode_success() -> None:
    """success: true is the only success; the status picks the error class otherwise."""
    assert (
        decode_success(kaltura_raw(200, b'{"success": true, "sessionId": "s"}'))["sessionId"] == "s"
    )
    with pytest.raises(APIError, match="boom") as info:
        decode_success(kaltura_raw(200, b'{"success": false, "error": "boom"}'))
    assert type(info.value) is APIError
    assert info.value.status == 200
    with pytest.raises(APIError, match="does not say success"):
        decode_success(kaltura_raw(201, b'{"success": "true"}'))
    with pytest.raises(ResponseDecodeError):
        decode_success(kaltura_raw(200, b"[true]"))
    with pytest.raises(ResponseDecodeError):
        decode_success(kaltura_raw(200, b"<html>"))
    with pytest.raises(NotFoundError, match="gone"):
        decode_success(kaltura_raw(404, b'{"success": false, "error": "gone"}'))
    with pytest.raises(APIError) as gone:
        decode_success(kaltura_raw(410, b'{"success": false, "error": "Gone"}'))
    assert gone.value.status == 410


def test_encode_multipart_round_trips_through_the_standard_parser() -> None:
    """Fields and file come back byte for byte; quotes and line breaks in names are escaped."""
    content, content_type = encode_multipart(
        {"turnId": "t\r\n1", "duration": "2.5"}, {"audio": ('a"\nb.mp3', "audio/mpeg", KALTURA_MP3)}
    )
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + content)
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert parts["turnId"].get_payload(decode=True) == b"t\r\n1"
    assert parts["duration"].get_payload(decode=True) == b"2.5"
    assert parts["audio"].get_payload(decode=True) == KALTURA_MP3
    assert parts["audio"].get_filename() == "a%22%0Ab.mp3"
    assert parts["audio"].get_content_type() == "audio/mpeg"
