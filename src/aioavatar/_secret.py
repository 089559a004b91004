"""A credential holder whose ``repr``/``str`` never show the value and which refuses to be pickled."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any, Final, NoReturn, final
from urllib.parse import quote, quote_plus

from .exceptions import ConfigurationError

__all__ = [
    "MASK",
    "Secret",
    "checked_once",
    "is_checked",
    "mask_echoes",
    "mask_text",
    "secret_value",
    "vouched_secret",
]

#: What a masked credential shows, in a repr, a log line or an error.
MASK: Final = "**********"


@final
class Secret:
    """An API key, session token or KS.

    ``repr()`` and ``str()`` are masked, so a secret that reaches a log line, a traceback or an f-string
    shows as ``**********``. Pickling raises ``TypeError``: a secret is not written to disk by accident.
    Read the value with :meth:`get_secret_value` at the one place that puts it in a header.

    Raises:
        ConfigurationError: ``value`` is not a string (or a ``Secret``).
    """

    # A weak reference: the masking of a session token in logs lives as long as its Secret.
    # ``_checked``: its value passed a check once (``checked_once``); a Secret never changes.
    __slots__ = ("__weakref__", "_checked", "_value")

    def __init__(self, value: str | Secret) -> None:
        value = secret_value(value)
        if not isinstance(value, str):
            raise ConfigurationError(
                f"a Secret holds a string, got {type(value).__name__}", field="value"
            )
        self._value = value
        self._checked = False

    def get_secret_value(self) -> str:
        """The secret itself. Only for the code that sends it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not picklable; pickle its owner without it")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


def checked_once(secret: Secret, check: Callable[[str, str], object], field: str) -> str:
    """The value of ``secret``, passed through ``check`` (which raises for a bad one) the first time
    only: a session's token is checked when its answer is read, not again by its start and stop."""
    if not secret._checked:
        check(secret._value, field)
        secret._checked = True
    return secret._value


def is_checked(secret: Secret) -> bool:
    """Whether ``secret``'s value passed a check (``checked_once``)."""
    return secret._checked


def vouched_secret(value: str, checked: bool) -> Secret:
    """A Secret of ``value``, a string the caller keeps and has seen checked when ``checked`` (a
    session's token, checked when its answer was read): its start and stop do not check it again."""
    secret = Secret(value)
    secret._checked = checked
    return secret


def secret_value(value: str | Secret) -> str:
    """The value of a credential given as a string or a :class:`Secret` (the same string object)."""
    return value._value if isinstance(value, Secret) else value  # no call: on every call's path


def mask_text(text: str, credentials: tuple[str, ...] | list[str]) -> str:
    """``text`` with every one of ``credentials`` replaced by the mask."""
    for credential in credentials:
        if credential and credential in text:
            text = text.replace(credential, MASK)
    return text


#: The shortest run of a credential's characters masked where a server echoed only part of it (cut off
#: by its own limit, or by an error's): no innocent text shares this many characters with a random key.
FRAGMENT: Final = 12


def mask_echoes(text: str, credentials: tuple[str, ...] | list[str]) -> str:
    """``text`` with every echo of ``credentials`` masked: whole, URL-encoded, or a run of at least
    :data:`FRAGMENT` of its characters (a server that cut it short). For the texts of errors and
    log records: the work grows with the length of the text and of the credentials."""
    for credential in credentials:
        if not credential:
            continue
        text = mask_text(text, (credential, quote(credential, safe=""), quote_plus(credential)))
        if len(credential) >= FRAGMENT:
            text = _mask_fragments(text, credential)
    return text


#: The credential is searched in pieces of this many characters: a run of FRAGMENT of its characters
#: always holds one whole piece that starts at a multiple of it.
_PIECE: Final = FRAGMENT // 2


#: A to Z as a to z, and nothing else: a fold that keeps every character of any text in place.
_FOLD: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _mask_fragments(text: str, credential: str) -> str:
    """Each run of at least FRAGMENT characters that ``text`` shares with ``credential`` masked, in
    either case of its letters (a server that upper-cased what it echoed: a hex key loses nothing
    by it): the pieces found by C-speed searches, each widened both ways once, in one pass of the
    text (the work grows with the text and the matches, never with their product)."""
    shown, text, credential = text, text.translate(_FOLD), credential.translate(_FOLD)
    offsets: dict[str, list[int]] = {}
    for offset in range(0, len(credential) - _PIECE + 1, _PIECE):
        offsets.setdefault(credential[offset : offset + _PIECE], []).append(offset)
    hits: list[tuple[int, int]] = []
    for piece, where in offsets.items():
        found = text.find(piece)
        while found >= 0:
            hits += ((found, offset) for offset in where[:4])  # a piece repeated: a few suffice
            found = text.find(piece, found + 1)
    if not hits:
        return shown
    hits.sort()
    parts: list[str] = []
    covered = 0
    for position, offset in hits:
        if position < covered:
            continue
        low, left = position, offset
        while low > covered and left > 0 and text[low - 1] == credential[left - 1]:
            low, left = low - 1, left - 1
        high, right = position + _PIECE, offset + _PIECE
        while high < len(text) and right < len(credential) and text[high] == credential[right]:
            high, right = high + 1, right + 1
        if high - low >= FRAGMENT:
            parts += (shown[covered:low], MASK)
            covered = high
    return "".join(parts) + shown[covered:] if parts else shown
