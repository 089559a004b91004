"""``aioavatar._converter``, the one converter: what it says of a field it does not know."""

from __future__ import annotations

import pytest

from aioavatar import AvatarSession, ConfigurationError

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
