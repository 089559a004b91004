"""attrs validators that raise :class:`ConfigurationError` naming the field and the rule.

The models call these at construction, so an invalid request never exists, let alone reaches the network.
"""

from __future__ import annotations

import difflib
import math
import re
import uuid
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._logging import redact
from ._secret import Secret, checked_once
from .exceptions import ConfigurationError

__all__ = [
    "MAX_URL_LENGTH",
    "check_bytes",
    "check_credential",
    "check_int",
    "check_number",
    "check_options",
    "check_path_id",
    "check_seconds",
    "check_text",
    "check_url",
    "check_uuid",
    "credential",
    "enum_field",
    "instance_of",
    "int_in",
    "known_enum",
    "number_in",
    "optional",
    "path_id",
    "seconds_in",
    "shown",
    "string",
    "usable_duration",
    "uuid_string",
]

Validator = Callable[[Any, Any, Any], None]


def optional(validator: Validator) -> Validator:
    """Skip ``None`` (an unset field, omitted from the request)."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_bytes(value: object, field: str, *, empty: str) -> bytes:
    """``value`` (``bytes``, ``bytearray`` or ``memoryview``) as non-empty ``bytes``; ``empty`` says what
    an empty value lacks, for the message.

    Raises:
        ConfigurationError: naming ``field``: not bytes, a released ``memoryview``, or empty.
    """
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ConfigurationError(f"must be bytes, got {type(value).__name__}", field=field)
    try:
        data = bytes(value)
    except ValueError:  # a released memoryview
        raise ConfigurationError("is a released buffer: nothing can be read", field=field) from None
    if not data:
        raise ConfigurationError(f"is empty: {empty}", field=field)
    return data


def check_options(given: Mapping[str, object], accepted: type) -> None:
    """Refuse a keyword that the ``TypedDict`` ``accepted`` does not name.

    Raises:
        ConfigurationError: naming the first unknown keyword and listing the accepted ones.
    """
    names = accepted.__annotations__
    for name in given:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigurationError(
                f"unknown option {name!r}{hint}; the accepted ones are: {', '.join(names)}",
                field=name,
            )


def check_uuid(value: object, field: str) -> None:
    """Raise naming ``field`` unless ``value`` is a UUID string in its 8-4-4-4-12 form."""
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        raise ConfigurationError(
            f"must be a UUID string such as '{uuid.UUID(int=0)}', got {shown(value)}", field=field
        )


def check_number(value: object, field: str, *, low: float, high: float) -> float:
    """``value`` as a float, when it is a finite real number (not a bool) in ``[low, high]``.

    Raises:
        ConfigurationError: naming ``field`` and the range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(
            f"must be a number from {low:g} to {high:g}, got {shown(value)}", field=field
        )
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    if not math.isfinite(number) or not low <= number <= high:
        raise ConfigurationError(
            f"must be a number from {low:g} to {high:g}, got {shown(value)}", field=field
        )
    return number


def check_seconds(value: object, field: str, *, low: float, high: float) -> float:
    """``value`` as a float of seconds in ``[low, high]``: a duration with a floor and a ceiling.

    Zero, negative, ``inf``, ``NaN``, ``None``, bools and non-numbers are refused: no duration of this
    SDK means "no limit".

    Raises:
        ConfigurationError: naming ``field`` and the accepted range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(
            f"must be a number of seconds from {low:g} to {high:g}, got {shown(value)}",
            field=field,
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or not low <= number <= high:
        raise ConfigurationError(
            f"must be a number of seconds from {low:g} to {high:g}, got {shown(value)}",
            field=field,
        )
    return number


def check_int(value: object, field: str, *, low: int, high: int) -> int:
    """``value`` when it is an int (not a bool) in ``[low, high]``.

    Raises:
        ConfigurationError: naming ``field`` and the range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(
            f"must be an integer from {low} to {high}, got {shown(value)}", field=field
        )
    return value


def check_text(value: object, field: str, *, max_length: int = 10_000) -> str:
    """``value`` when it is a string with something besides white space, of at most ``max_length``
    characters, that can be sent as UTF-8 (no lone surrogate).

    Raises:
        ConfigurationError: naming ``field``.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"must be a string that is not empty or only white space, got {shown(value)}",
            field=field,
        )
    if len(value) > max_length:
        raise ConfigurationError(
            f"must be at most {max_length} characters, got {len(value)}", field=field
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(
            "must be valid text (it holds a lone surrogate that cannot be sent)", field=field
        ) from None
    return value


#: The longest URL sent as a field (what common servers and browsers accept).
MAX_URL_LENGTH = 2_048


def check_url(value: object, field: str) -> str:
    """``value`` when it is an ``http(s)`` URL with a host, of at most 2,048 characters, with no white
    space or control character in it.

    Raises:
        ConfigurationError: naming ``field``.
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"must be an http(s) URL, got {shown(value)}", field=field)
    if len(value) > MAX_URL_LENGTH:
        raise ConfigurationError(
            f"must be at most {MAX_URL_LENGTH} characters, got {len(value)}", field=field
        )
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ConfigurationError("must not hold white space or control characters", field=field)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"must be an http(s) URL with a host, got {shown(value)}", field=field
        )
    return value


_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:-]{0,255}")


def check_path_id(value: object, field: str) -> str:
    """``value`` when it can name a resource in a URL path: 1 to 256 letters, digits and ``._~:-``,
    starting with a letter or digit (so never ``.`` or ``..``, a ``/`` or a ``?``).

    Raises:
        ConfigurationError: naming ``field``.
    """
    if not isinstance(value, str) or _PATH_ID.fullmatch(value) is None:
        raise ConfigurationError(
            "must be an id of 1 to 256 letters, digits and '._~:-', starting with a letter or "
            f"digit, got {shown(value)}",
            field=field,
        )
    return value


def path_id(instance: Any, attribute: Any, value: Any) -> None:
    """attrs form of :func:`check_path_id`."""
    check_path_id(value, attribute.name)


_CREDENTIAL = re.compile(r"[\x21-\x7e]+")
#: A credential's length: no API key, KS or token is shorter (and a shorter value could not be masked
#: where a server echoes it without masking innocent text), none near this long (a header line of
#: 8 KiB is what servers read).
MIN_CREDENTIAL_LENGTH = 8
MAX_CREDENTIAL_LENGTH = 8_000


def check_credential(value: object, field: str) -> str:
    """``value`` when it can travel in an HTTP header as a credential: printable ASCII, no white
    space or control character (a CR or LF would split the header). A :class:`~aioavatar.Secret`
    gives its value, checked the first time only (a Secret never changes: a session's token is
    checked when its answer is read, not again by its start and stop).

    The message never shows the value: it is a secret.

    Raises:
        ConfigurationError: naming ``field``.
    """
    if type(value) is Secret:
        return checked_once(value, check_credential, field)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(
            f"must be a non-empty string, got {type(value).__name__}", field=field
        )
    if not MIN_CREDENTIAL_LENGTH <= len(value) <= MAX_CREDENTIAL_LENGTH:
        raise ConfigurationError(
            f"must be {MIN_CREDENTIAL_LENGTH} to {MAX_CREDENTIAL_LENGTH:,} characters long, "
            f"got {len(value):,} (is it the whole credential?)",
            field=field,
        )
    if _CREDENTIAL.fullmatch(value) is None:
        raise ConfigurationError(
            "must be printable ASCII without white space or control characters "
            "(check for a stray newline or space)",
            field=field,
        )
    return value


def credential(instance: Any, attribute: Any, value: Any) -> None:
    """attrs form of :func:`check_credential`, for a :class:`~aioavatar.Secret` or a string."""
    if type(value) is Secret:  # an answer's token: checked here, once, not again by its calls
        checked_once(value, check_credential, attribute.name)
        return
    if not isinstance(value, str) and hasattr(value, "get_secret_value"):
        value = value.get_secret_value()  # a secret holder of another library
    check_credential(value, attribute.name)


def shown(value: object) -> str:
    """A short, safe rendering of a refused value for an error message: a plain string, number or
    ``None`` as its repr, any credential in it masked (a session token passed as an id, say) and cut
    to 60 characters after masking; anything else (a subclass, whose repr may raise or run long) by
    its type, as a string too long to mask cheaply is by its length."""
    kind = type(value)
    if kind is str and len(value) > 1_000:  # type: ignore[arg-type]
        return f"a string of {len(value)} characters"  # type: ignore[arg-type]
    if kind in (str, int, float, bool) or value is None:
        try:
            text = redact(repr(value))
        except ValueError:  # an int of more digits than Python converts
            return f"an {kind.__name__} too large to show"
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {kind.__name__}"


#: The longest duration a session deadline may have (ten years): far beyond any tier, far below any
#: overflow of a float clock or a ``timedelta``.
MAX_DEADLINE = 10 * 365 * 86_400.0


def usable_duration(value: object) -> float | None:
    """``value`` as seconds when it is a usable session duration (a finite number from 1 s to ten
    years), else ``None``: a hostile or broken value means "no deadline", never a crash."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and 1.0 <= seconds <= MAX_DEADLINE else None


def seconds_in(low: float, high: float) -> Validator:
    """attrs form of :func:`check_seconds`."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        check_seconds(value, attribute.name, low=low, high=high)

    return check


def uuid_string(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a UUID (string or :class:`uuid.UUID`)."""
    check_uuid(value, attribute.name)


def enum_field(enum: type[StrEnum]) -> Any:
    """An optional attrs field of ``enum``: a string is read as its member in any case, then checked
    to be a known member (an unknown value is a :class:`ConfigurationError` naming the field)."""

    def convert(value: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, enum):
            value = str.__str__(value)  # a plain string: no subclass's own repr or comparisons
            try:
                return enum(value)
            except ValueError:
                return value
        return value

    return attrs.field(default=None, converter=convert, validator=optional(known_enum(enum)))


def known_enum(enum: type[StrEnum]) -> Validator:
    """The value is a member of ``enum`` (or the string of one)."""
    allowed = {m.value for m in enum}

    def check(instance: Any, attribute: Any, value: Any) -> None:
        plain = str.__str__(value) if isinstance(value, str) else None  # no subclass's __str__
        if plain is None or plain not in allowed:
            raise ConfigurationError(
                f"must be one of {', '.join(sorted(allowed))}, got {shown(plain or value)}",
                field=attribute.name,
            )

    return check


def number_in(low: float, high: float) -> Validator:
    """The value is a real number in ``[low, high]`` (attrs form of :func:`check_number`)."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        check_number(value, attribute.name, low=low, high=high)

    return check


#: The largest number a "positive number" field accepts (far beyond any real setting, far below
#: anything that overflows a float or a timedelta).
MAX_NUMBER = 1e9


def positive_number(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a finite number above zero."""
    number = check_number(value, attribute.name, low=0.0, high=MAX_NUMBER)
    if number <= 0:
        raise ConfigurationError(
            f"must be a number above 0, got {shown(value)}", field=attribute.name
        )


def int_in(low: int, high: int) -> Validator:
    """The value is an integer in ``[low, high]`` (attrs form of :func:`check_int`)."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        check_int(value, attribute.name, low=low, high=high)

    return check


def boolean(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a bool."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"must be true or false, got {shown(value)}", field=attribute.name)


def string(instance: Any, attribute: Any, value: Any) -> None:
    """The value is a string with something besides white space (attrs form of :func:`check_text`)."""
    check_text(value, attribute.name)


def instance_of(*classes: type) -> Validator:
    """The value is an instance of one of ``classes`` (a ``ConfigurationError``, unlike attrs' own)."""
    names = " or ".join(cls.__name__ for cls in classes)

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if not isinstance(value, classes) or (isinstance(value, bool) and bool not in classes):
            raise ConfigurationError(f"must be a {names}, got {shown(value)}", field=attribute.name)

    return check
