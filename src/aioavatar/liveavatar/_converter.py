"""How LiveAvatar's models go to and from JSON, registered on the one converter at import.

The request models are read from model instances or dicts (unknown keys refused) and written without
unset fields; ``voice_settings`` is discriminated by its ``provider`` (in any case); the start answer's
``max_session_duration`` is read tolerantly (a broken one means "not given": rule 8 of the lifecycle);
a voice preview's ``audio_base64`` is read as the bytes it encodes; a session entry's descriptive
fields are read tolerantly (a number or a decimal string for an amount, a number for a time; anything
else reads as "not given"), so that one loose field never hides the ``end_reason`` a lookup is for.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from typing import Any

from cattrs.gen import override

from .._converter import converter, number_or_none, register_requests, register_response
from .._enums import EndReason
from .._logging import logger
from .._validation import shown
from ..exceptions import ConfigurationError
from ._configs import CONFIG_MODELS, ElevenLabsVoiceSettings, FishVoiceSettings, VoiceSettings
from ._enums import Mode, SessionSource
from ._models import SessionInfo, SessionTokenRequest
from ._reads import SessionEntry
from ._resource_models import VoicePreview

__all__ = ["REQUEST_MODELS"]

#: Every request model of the LiveAvatar session API.
REQUEST_MODELS: tuple[type, ...] = (SessionTokenRequest, *CONFIG_MODELS)
register_requests(*REQUEST_MODELS)

_VOICE_PROVIDERS: dict[str, type[ElevenLabsVoiceSettings | FishVoiceSettings]] = {
    ElevenLabsVoiceSettings.provider: ElevenLabsVoiceSettings,
    FishVoiceSettings.provider: FishVoiceSettings,
}
_VOICE_PROVIDERS_ANY_CASE = {name.casefold(): cls for name, cls in _VOICE_PROVIDERS.items()}


def _voice_settings(value: Any, _: Any) -> VoiceSettings | None:
    if value is None or isinstance(value, ElevenLabsVoiceSettings | FishVoiceSettings):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"expected voice settings or a dict, got {type(value).__name__}")
    provider = value.get("provider")
    cls = _VOICE_PROVIDERS_ANY_CASE.get(provider.casefold()) if isinstance(provider, str) else None
    if cls is None:
        raise ConfigurationError(
            f"must be one of {', '.join(_VOICE_PROVIDERS)}, got {shown(provider)}", field="provider"
        )
    fields = {key: item for key, item in value.items() if key != "provider"}
    return converter.structure(fields, cls)


converter.register_structure_hook_func(
    lambda t: t in (VoiceSettings, VoiceSettings | None), _voice_settings
)


def _duration(value: Any, _: Any) -> float | None:
    """``max_session_duration`` as sent: a number as it is, else ``None``. One that is sent but is no
    number (text, a flag, an object) is logged at WARNING as it was sent (rule 8), here, where it
    is still seen: the session then has no deadline from it, as for any unusable duration."""
    number = number_or_none(value, None)
    if number is None and value is not None:
        logger.warning(
            "a start answer's max_session_duration %.40r is not a usable number of seconds: ignored",
            value,
        )
    return number


register_response(SessionInfo, {"max_session_duration": override(struct_hook=_duration)})


def _base64(value: Any, _: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("audio_base64 is not valid base64") from None


register_response(VoicePreview, {"audio": override(rename="audio_base64", struct_hook=_base64)})


def _amount(value: Any, _: Any) -> float | None:
    """A finite number, or one written as text (``"2.5000"``, as the API writes credits); else not
    given (``NaN``, ``Infinity`` and integers past a float's range included)."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    number = number_or_none(value, None)
    try:
        return number if number is not None and math.isfinite(number) else None
    except OverflowError:  # an int no float holds
        return None


def _time(value: Any, _: Any) -> str | None:
    """A time as the server wrote it; a number (seconds since the epoch, say) as its text."""
    if isinstance(value, str):
        return value
    return None if _amount(value, None) is None else str(value)


def _or_none(kind: Any) -> Callable[[Any, Any], Any]:
    """Read ``kind``; a value of the wrong type (``None`` too) reads as not given."""

    def read(value: Any, _: Any) -> Any:
        if value is None:
            return None
        try:
            return converter.structure(value, kind)
        except (TypeError, ValueError):
            return None

    return read


register_response(
    SessionEntry,
    {
        "created_at": override(struct_hook=_time),
        "updated_at": override(struct_hook=_time),
        "end_at": override(struct_hook=_time),
        "duration": override(struct_hook=_amount),
        "credits_consumed": override(struct_hook=_amount),
        "source": override(struct_hook=_or_none(SessionSource)),
        "mode": override(struct_hook=_or_none(Mode)),
        "is_sandbox": override(struct_hook=_or_none(bool)),
        # Unreadable: not given (with no ``end_at`` either, the session counts as running: the
        # lifecycle then stops it rather than believe it ended, rules 7 and 14).
        "end_reason": override(struct_hook=_or_none(EndReason)),
    },
)
