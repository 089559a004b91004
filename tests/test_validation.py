"""``aioavatar._validation``: the checks every public input goes through before any I/O."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from aioavatar import (
    AvatarPersona,
    ConfigurationError,
    KalturaAvatarClient,
    LiveAvatarClient,
    SessionTokenRequest,
    VideoSettings,
    VoiceAgent,
)
from aioavatar._validation import check_bytes, check_options

from .conftest import AVATAR_ID


class _Options(TypedDict, total=False):
    timeout: float
    retry_policy: object


def test_check_options_accepts_known_keywords_and_names_an_unknown_one() -> None:
    """Known keywords pass; an unknown one is refused by name, with the closest accepted one and the
    whole list."""
    check_options({"timeout": 1.0, "retry_policy": None}, _Options)
    with pytest.raises(ConfigurationError) as info:
        check_options({"timeout": 1.0, "timout": 2.0}, _Options)
    assert info.value.field == "timout"
    assert "did you mean 'timeout'?" in str(info.value)
    assert "timeout, retry_policy" in str(info.value)


@pytest.mark.parametrize("value", [b"ab", bytearray(b"ab"), memoryview(b"ab")])
def test_check_bytes_returns_bytes(value: Any) -> None:
    """bytes, bytearray and memoryview come back as bytes with the same content."""
    assert check_bytes(value, "audio", empty="nothing") == b"ab"


def test_check_bytes_refuses_what_is_not_usable_bytes() -> None:
    """Not bytes, a released buffer, or empty: a ConfigurationError naming the field."""
    released = memoryview(b"ab")
    released.release()
    for value, words in [
        ("ab", "must be bytes, got str"),
        (released, "released"),
        (b"", "nothing"),
    ]:
        with pytest.raises(ConfigurationError, match=words) as info:
            check_bytes(value, "audio", empty="nothing to say")
        assert info.value.field == "audio"


class _BadRepr(str):
    """A string whose repr, str and strip raise (a caller's odd subclass)."""

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    __str__ = __repr__

    def strip(self, chars: str | None = None) -> str:
        raise RuntimeError("strip exploded")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda v: AvatarPersona(context_id=v), "context_id"),
        (lambda v: SessionTokenRequest(avatar_id=v), "avatar_id"),
        (lambda v: VoiceAgent(id=AVATAR_ID, dynamic_variables=v), "dynamic_variables"),
        (lambda v: VideoSettings(quality=v), "quality"),
    ],
)
def test_a_refused_value_whose_repr_raises_is_still_a_configuration_error(
    build: Any, field: str
) -> None:
    """The message of a refusal never runs the value's own repr: an object whose repr raises is a
    ConfigurationError naming the field, not that object's error."""
    with pytest.raises(ConfigurationError) as info:
        build(_BadRepr("x"))
    assert info.value.field is not None
    assert field in info.value.field


@pytest.mark.anyio
async def test_a_session_token_passed_as_an_id_is_not_quoted(
    client: LiveAvatarClient,
) -> None:
    """A session token where an id belongs (the arguments swapped) is refused without quoting it."""
    token = await client.create_session_token(AVATAR_ID)
    raw = token.session_token.get_secret_value()
    for call in (client.keep_alive, client.stop_session, client.get_session):
        with pytest.raises(ConfigurationError) as info:
            await call(raw)
        assert info.value.field == "session_id"
        assert raw not in str(info.value)
        assert raw[:12] not in str(info.value)


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZXNzaW9uIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("call", "odd"),
    [
        (lambda v: LiveAvatarClient("k" * 20, base_url=f"https://a:{v}@api.example.com:99999"), 0),
        (lambda v: LiveAvatarClient("k" * 20, base_url=f"ftp://admin:{v}@api.example.com"), 0),
        (lambda v: KalturaAvatarClient("k" * 20, region=v), 1),
        (lambda v: LiveAvatarClient("k" * 20).list_sessions(v), 1),
        (lambda v: LiveAvatarClient("k" * 20).voices.list(voice_type=v), 1),
    ],
)
def test_no_refusal_quotes_a_credential_or_runs_an_odd_values_repr(call: Any, odd: int) -> None:
    """Whatever the parameter, a refusal shows no password of a URL and no token given in the
    wrong place, and an odd value (a subclass whose repr raises) is still a ConfigurationError."""
    for value in (JWT, _BadRepr("x"))[: 1 + odd]:
        with pytest.raises(ConfigurationError) as info:
            result = call(value)
            if hasattr(result, "__await__"):  # a pager or a coroutine: refused when made
                result.close()  # pragma: no cover - never reached
        assert JWT[:20] not in str(info.value)
