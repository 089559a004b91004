"""``aioavatar._converter``, the one converter: what it says of a field it does not know, and the
response hooks it keeps."""

from __future__ import annotations

import attrs
import pytest
from cattrs.gen import override

from aioavatar import AvatarSession, ConfigurationError
from aioavatar._converter import DecodeFailure, register_response, structure_response

from .conftest import API_KEY, AVATAR_ID


def test_an_unknown_field_suggests_the_closest_and_lists_the_accepted_ones() -> None:
    """A misspelt field names the closest accepted one and lists them all."""
    with pytest.raises(ConfigurationError, match="did you mean 'video_settings'") as info:
        AvatarSession(AVATAR_ID, api_key=API_KEY, vidoe_settings={})  # type: ignore[call-arg]
    assert "max_session_duration" in str(info.value)
    with pytest.raises(ConfigurationError, match="did you mean 'quality'") as nested:
        AvatarSession(
            AVATAR_ID,
            api_key=API_KEY,
            video_settings={"qualty": "high"},  # type: ignore[arg-type]
        )
    assert nested.value.field == "video_settings"


def test_a_response_model_registered_again_is_read_with_its_new_overrides() -> None:
    """The structure hook of each response model is looked up once and kept; registering the model
    again (new field overrides) is honoured by the next answer, its own and that of a model nesting
    it, not shadowed by a kept hook."""

    @attrs.frozen
    class Answer:
        session_id: str

    @attrs.frozen
    class Outer:
        answer: Answer

    attrs.resolve_types(Answer)
    attrs.resolve_types(Outer, localns={"Answer": Answer})  # classes of this test alone

    assert structure_response({"session_id": "a"}, Answer) == Answer("a")
    assert structure_response({"answer": {"session_id": "a"}}, Outer) == Outer(Answer("a"))
    register_response(Answer, {"session_id": override(rename="sessionId")})
    assert structure_response({"sessionId": "b"}, Answer) == Answer("b")
    with pytest.raises(DecodeFailure, match="session_id"):
        structure_response({"session_id": "c"}, Answer)
    # A model nesting it, read before, reads it the new way too.
    assert structure_response({"answer": {"sessionId": "d"}}, Outer) == Outer(Answer("d"))
