"""The enums of the SDK: the string enums' two bases, :class:`EndReason`, which every provider
reports, and :class:`SessionState`.

Every enum reads its values in any case. Enums the server sends back (:class:`EndReason`; LiveAvatar's
``Mode``, ``SessionSource``, ``TranscriptRole`` in ``aioavatar.liveavatar._enums``) are *tolerant*: a
value the server adds later becomes a pseudo-member (``EndReason("NEW_REASON").is_known is False``)
instead of crashing the client. Requests only accept known members: the validation in the models checks
``is_known``.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any, Literal, Self, TypeAlias

from ._validation import shown

__all__ = ["CaseInsensitiveEnum", "EndReason", "EndReasonName", "SessionState", "TolerantEnum"]


class CaseInsensitiveEnum(StrEnum):
    """A string enum that reads its values in any case (``Mode("lite")`` is ``Mode.LITE``): every
    enum-like input of the SDK is case-insensitive, as the CLI's are."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        return None


class TolerantEnum(CaseInsensitiveEnum):
    """A string enum that turns an unknown string into a pseudo-member rather than raising."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        known = super()._missing_(value)
        if known is not None or not isinstance(value, str):
            return known
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """Whether this value is one the SDK knows (``False`` for a value the server added later)."""
        return self._value_ in type(self)._value2member_map_

    @classmethod
    def known(cls, value: str | Self) -> Self:
        """Return the known member for ``value`` (in any case); raise ``ValueError`` for anything else."""
        if type(value) is cls and cls._value2member_map_.get(value._value_) is value:
            return value  # a known member as it is (every stop's reason): no lookup
        if isinstance(value, str):
            value = str.__str__(value)  # a plain string: no subclass's own repr or comparisons
            member = cls(value)
            if member.is_known:
                return member
        raise ValueError(f"{shown(value)} is not one of {', '.join(m.value for m in cls)}")


class EndReason(TolerantEnum):
    """``SessionEndReasonEnum``: why a session ended, sent on stop and reported for historic sessions."""

    UNKNOWN = "UNKNOWN"
    USER_DISCONNECTED = "USER_DISCONNECTED"
    SERVER_ERROR = "SERVER_ERROR"
    IDLE_TIMEOUT = "IDLE_TIMEOUT"
    NO_CREDITS = "NO_CREDITS"
    USER_CLOSED = "USER_CLOSED"
    AVATAR_DELETED = "AVATAR_DELETED"
    MAX_DURATION_REACHED = "MAX_DURATION_REACHED"
    ZOMBIE_SESSION_REAP = "ZOMBIE_SESSION_REAP"
    AGENT_HANG_UP = "AGENT_HANG_UP"


EndReasonName: TypeAlias = Literal[
    "UNKNOWN", "unknown", "USER_DISCONNECTED", "user_disconnected", "SERVER_ERROR", "server_error",
    "IDLE_TIMEOUT", "idle_timeout", "NO_CREDITS", "no_credits", "USER_CLOSED", "user_closed",
    "AVATAR_DELETED", "avatar_deleted", "MAX_DURATION_REACHED", "max_duration_reached",
    "ZOMBIE_SESSION_REAP", "zombie_session_reap", "AGENT_HANG_UP", "agent_hang_up",
]  # fmt: skip
"""The values of :class:`EndReason` as strings the type checker accepts (as the API spells them and in
lower case; the run time reads any case): ``stop(reason)`` takes the enum or one of these."""


class SessionState(Enum):
    """Where a session is in its lifecycle (it only moves forward)."""

    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"
    ENDED = "ended"

    # Hashed by identity, in C (Enum's own __hash__ is Python, paid on every move of every state).
    __hash__ = object.__hash__
