"""The one ``aioavatar`` logger, what it may carry, and the filter that redacts what slipped through.

Every record of the SDK goes to ``logging.getLogger("aioavatar")`` (no child loggers), and carries only
items from this allowlist:

- method and path (the path may hold a session id; never a query string, a host or a header),
- HTTP status, duration, attempt number, the server's request id,
- session id, end reason, and the class name of an error (``RequestTimeout``, ``ServerDisconnectedError``).

Never a header, a body, a credential, or the ``repr`` of an aiohttp object.

As a second line of defence, :class:`RedactingFilter` is attached to the ``aioavatar`` logger when the
package is imported. It masks bearer tokens, ``X-API-KEY`` and ``Authorization`` values, Kaltura ``KS``
values, JWT-shaped strings, and the value of every credential the SDK currently holds (API keys of open
clients, tokens a client returned while their Secret lives, a session's token until the session is
known to have ended), in the message, its arguments, the formatted exception and the
stack. A logger's filters only see records logged to that logger, so to redact other libraries' records
(aiohttp's, your own) as well, add a :class:`RedactingFilter` to your handler.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections import deque
from typing import Final

from ._secret import MASK, Secret, mask_echoes, secret_value

__all__ = [
    "MASK",
    "RedactingFilter",
    "describe_error",
    "error_chain",
    "error_text",
    "hold_secret",
    "hold_values",
    "logger",
    "mask_tracked",
    "may_hold_tracked",
    "redact",
    "redact_error",
    "release_secret",
    "release_values",
    "track_secret",
]

# A credential shorter than this is not tracked by value (masking every "test" in a log line helps
# nobody); the patterns below still apply.
MIN_TRACKED_LENGTH: Final = 8

_CREDENTIAL = r"[^\s'\",;}\]]+"
_PREFIXED: Final = (
    # Authorization: Bearer <x> / KS <x> / Basic <x>, in headers, dict reprs and prose alike.
    re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?(?:[a-z]+\s+)?)" + _CREDENTIAL),
    # A bare "Bearer <token68>" (the word alone, as in prose, is left be).
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/-]{8,}=*"),
    re.compile(r"(?i)(\bx-api-key['\"]?\s*[:=]\s*['\"]?)" + _CREDENTIAL),
    # A Kaltura session: "KS <ks>" in a header, "ks=<ks>" in a query or form.
    re.compile(r"(\bKS\s+)[A-Za-z0-9+/=_|.-]{16,}"),
    re.compile(r"(?i)(\bks['\"]?\s*[:=]\s*['\"]?)[A-Za-z0-9+/=_|.-]{16,}"),
)
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

# Credentials by value, each masked while the object that holds it lives (a client, a Secret) or, for
# a session's token, while the session holds it (``hold_secret``), by their first MIN_TRACKED_LENGTH
# characters: redact() scans a line once with a dict lookup per position (testing each credential made
# it 0.9 ms per record at 10,000 sessions). A held value goes at its last release; weakly kept ones are
# looked at again, 64 every 32 weak registrations. Nothing walks every credential (a prune that did
# stalled the loop for 0.36 s beside 50,000 sessions). The index, while small enough for a reader to
# walk (``_WALKED``), and a bucket's lengths are swapped whole: a filter in another thread never sees
# either half built. A held token costs no object here: its holds are counted in an int.
# Writers only (clients made in several threads); readers never wait.
_registering = threading.Lock()
#: The values a weak reference keeps masked, each once, in the order they are looked at again
#: (``_look_again``), every ``_LOOK_EVERY`` weak registrations (``_unseen`` of them since the last).
_watched: deque[str] = deque()
_LOOK_EVERY: Final = 32
_unseen = 0
#: Up to this many buckets a reader walks the index itself (``may_hold_tracked``); beyond, it never does.
_WALKED: Final = 64

# An owner's weak reference, or an int: how many holds keep the value masked (``hold_secret``).
_Owner = weakref.ref[object] | int
_Owners = _Owner | list[_Owner]


def _live(owner: _Owner) -> bool:
    return owner > 0 if isinstance(owner, int) else owner() is not None


def _alive(owners: _Owners) -> bool:
    if isinstance(owners, list):
        return any(_live(owner) for owner in owners)
    return _live(owners)


class _Bucket:
    """The tracked credentials that start with one MIN_TRACKED_LENGTH-character key: by value (each
    with its owner, or a list of them when several hold it) and the lengths they come in, longest
    first. JWTs share their first 36 characters, so a bucket may hold every session token: a match
    costs a dict lookup per distinct length, and a registration a dict insert, however many it
    holds."""

    __slots__ = ("lengths", "values")

    def __init__(self) -> None:
        self.lengths: tuple[int, ...] = ()
        self.values: dict[str, _Owners] = {}

    def add(self, value: str, owner: _Owner) -> bool:
        """Add ``owner`` to ``value``'s; whether it is the value's first weak reference (then to be
        watched: ``_look_again``). The owner given last is not added again (CPython gives an object
        one weak reference): a client storing one secret again and again keeps one entry."""
        held = self.values.get(value)
        weak = not isinstance(owner, int)
        if held is None:
            self.values[value] = owner
            first = weak
        elif isinstance(held, list):
            first = weak and all(isinstance(known, int) for known in held)
            if weak and held[-1] is owner:
                pass  # the same owner again (a scan of a long list per registration would not pay)
            elif len(held) >= 8 and not len(held) & (len(held) - 1):
                # At 8, 16, 32, ... owners the dead go (clients made with one API key come and go).
                self.values[value] = [*(known for known in held if _live(known)), owner]
            else:
                held.append(owner)  # one step: a reader sees the list with or without it
        elif weak and held is owner:
            first = False
        else:
            first = weak and isinstance(held, int)
            self.values[value] = [held, owner]
        if len(value) not in self.lengths:  # swapped whole: a reader never sees it half built
            self.lengths = tuple(sorted({*self.lengths, len(value)}, reverse=True))
        return first

    def hold(self, value: str, change: int, let_go: object = None) -> None:
        """Add ``change`` to the holds on ``value`` (which must be indexed here), dropping the weak
        reference to ``let_go`` and every dead one, and the value itself once neither a hold nor a
        live owner is left."""
        owners = self.values[value]
        holds = change
        kept: list[_Owner] = []
        for owner in owners if isinstance(owners, list) else [owners]:
            if isinstance(owner, int):
                holds += owner
                continue
            held = owner()
            if held is not None and held is not let_go:
                kept.append(owner)
        if holds > 0:
            kept.append(holds)
        if kept:
            self.values[value] = kept[0] if len(kept) == 1 else kept
        else:  # nothing masks it any more (a reader looking it up finds it or not: unmasked either way)
            del self.values[value]

    def match(self, text: str, position: int) -> int:
        """The length of the longest live credential at ``position`` of ``text``, or 0."""
        for length in self.lengths:
            owners = self.values.get(text[position : position + length])
            if owners is not None and _alive(owners):
                return length
        return 0


_by_prefix: dict[str, _Bucket] = {}


def error_text(error: BaseException | None) -> str:
    """An error's text, or its class name when it has none."""
    return (str(error) or type(error).__name__) if error is not None else "no detail"


def describe_error(exc: BaseException) -> str:
    """An error as the allowlist permits it in a log line: its class, and its HTTP status if it has one.

    Never ``str(exc)``: an API error's text carries the server's message, which is not on the list.
    """
    status = getattr(exc, "status", None)
    name = type(exc).__name__
    return f"{name} (HTTP {status})" if isinstance(status, int) and status else name


def track_secret(owner: object, secret: Secret | str) -> None:
    """Mask ``secret``'s value in every record the filter sees, for as long as ``owner`` lives.

    ``owner`` must support weak references (clients, attrs models and Secrets do: a token a client
    returns is its own owner, masked as long as its Secret lives).
    """
    value = secret_value(secret)
    if len(value) < MIN_TRACKED_LENGTH:
        return
    with _registering:
        _register(value, weakref.ref(owner))


def hold_secret(secret: Secret) -> str:
    """Mask ``secret``'s value until :func:`release_secret`, whatever becomes of the ``Secret``
    object, and return the value.

    For a session's token: the session keeps the value, masked for as long as the session runs,
    and lets go of the ``Secret`` its client returned (the weak reference that masked it as long as
    that object lived is dropped; a session costs the collector neither object).
    """
    value = secret_value(secret)
    if len(value) >= MIN_TRACKED_LENGTH:
        with _registering:
            _register(value, 1)
            _by_prefix[value[:MIN_TRACKED_LENGTH]].hold(value, 0, let_go=secret)
    return value


def hold_values(values: tuple[str, ...]) -> None:
    """:func:`hold_secret` of each of ``values`` (plain strings), under one lock."""
    with _registering:
        for value in values:
            if len(value) >= MIN_TRACKED_LENGTH:
                _register(value, 1)


def release_values(values: tuple[str, ...]) -> None:
    """:func:`release_secret` of each of ``values``, under one lock (a value never held, one too
    short to be, is skipped)."""
    with _registering:
        for value in values:
            key = value[:MIN_TRACKED_LENGTH]
            bucket = _by_prefix.get(key)
            if bucket is not None and value in bucket.values:
                bucket.hold(value, -1)
                _drop_if_empty(key, bucket)


def release_secret(value: str) -> None:
    """Let go of one :func:`hold_secret` on ``value``: once none is left, and no owner that
    :func:`track_secret` was given lives, it is no longer masked."""
    release_values((value,))


def _register(value: str, owner: _Owner) -> None:
    global _unseen
    if isinstance(owner, int):
        _index(value, owner)
        return
    if _index(value, owner):
        # Its first weak owner: the value is looked at again later, and dropped once none lives.
        _watched.append(value)
    _unseen += 1
    if _unseen >= _LOOK_EVERY:
        _unseen = 0
        _look_again(2 * _LOOK_EVERY)


def _look_again(count: int) -> None:
    """Look again at the ``count`` values watched longest: drop their dead owners, and a value nothing
    masks any more; one a live weak reference keeps goes to the back of the line. Twice as many
    looked at as added: at most half the line is ever dead, and no registration looks at more."""
    for _ in range(min(count, len(_watched))):
        value = _watched.popleft()
        key = value[:MIN_TRACKED_LENGTH]
        bucket = _by_prefix.get(key)
        owners = bucket.values.get(value) if bucket is not None else None
        if bucket is None or owners is None or isinstance(owners, int):
            continue  # dropped already (released), or kept by holds alone
        if not isinstance(owners, list):  # one weak reference (nearly always: a token's Secret)
            if owners() is not None:
                _watched.append(value)
                continue
            del bucket.values[value]
        else:
            bucket.hold(value, 0)
            kept = bucket.values.get(value)
            if kept is not None and not isinstance(kept, int):  # a live weak reference among them
                _watched.append(value)
                continue
        # Checked here as _drop_if_empty does: a call per value dropped would cost a look up to 64.
        if not bucket.values:
            _drop_if_empty(key, bucket)


def _index(value: str, owner: _Owner) -> bool:
    """Index ``value`` with ``owner``; whether that is its first weak reference (``_Bucket.add``)."""
    global _by_prefix
    key = value[:MIN_TRACKED_LENGTH]
    bucket = _by_prefix.get(key)
    if bucket is None:
        bucket = _Bucket()
        if len(_by_prefix) > _WALKED:  # no reader walks an index this large
            _by_prefix[key] = bucket
        else:
            _by_prefix = {**_by_prefix, key: bucket}
    return bucket.add(value, owner)


def _drop_if_empty(key: str, bucket: _Bucket) -> None:
    """Drop ``bucket`` (under ``key``) from the index once it holds no value."""
    global _by_prefix
    if bucket.values or _by_prefix.get(key) is not bucket:
        return
    if len(_by_prefix) > _WALKED + 1:  # still too large for a reader to walk once it is gone
        del _by_prefix[key]
    else:
        _by_prefix = {known: kept for known, kept in _by_prefix.items() if known != key}


def may_hold_tracked(text: str) -> bool:
    """Whether ``text`` (JSON as received) may hold a tracked credential: the first characters of
    one appear in it, or an escape that could hide them. A few C-speed searches, so that a text with
    none (nearly every realtime frame) is not masked character by character."""
    index = _by_prefix
    if not index:
        return False
    if len(index) > _WALKED or "\\" in text:
        return True
    return any(key in text for key in index)


def mask_tracked(text: str) -> str:
    """``text`` with the value of every tracked credential masked (no pattern: data stays as sent)."""
    return _mask_tracked(text)


def _mask_tracked(text: str) -> str:
    index = _by_prefix
    if not index or len(text) < MIN_TRACKED_LENGTH:
        return text
    parts: list[str] = []
    start = position = 0
    end = len(text) - MIN_TRACKED_LENGTH
    while position <= end:
        bucket = index.get(text[position : position + MIN_TRACKED_LENGTH])
        length = bucket.match(text, position) if bucket is not None else 0
        if length:
            parts += (text[start:position], MASK)
            position = start = position + length
        else:
            position += 1
    if not parts:
        return text
    parts.append(text[start:])
    return "".join(parts)


def redact(text: str) -> str:
    """``text`` with every credential-shaped substring and every tracked credential masked."""
    text = _mask_tracked(text)
    for pattern in _PREFIXED:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return _JWT.sub(MASK, text)


#: The longest text of an error that is kept (and masked); a longer one is withheld whole.
_MAX_ERROR_TEXT: Final = 65_536


def redact_error(exc: BaseException, credentials: tuple[str, ...] | list[str] = ()) -> None:
    """Mask credentials in every text ``exc`` and the errors chained to it carry, in place: their
    ``args`` and their string, list and dict attributes (``message``, ``detail``, ...).

    Masks ``credentials`` (what the request carried: whole, URL-encoded, or any run of 12 of their
    characters, which a server that cut the echo short leaves), every tracked credential and every
    credential-shaped string (see :func:`redact`), so that ``str``, ``repr``, a traceback and a pickle of
    the error show none, whatever the server echoed.
    """

    def clean(value: object, depth: int = 0) -> object:
        if isinstance(value, str):
            if len(value) > _MAX_ERROR_TEXT:  # no error says this much: not worth masking
                return f"[{len(value):,} characters withheld]"
            return redact(mask_echoes(value, credentials))
        if depth > 4:
            return value
        if isinstance(value, list):
            return [clean(item, depth + 1) for item in value]
        if isinstance(value, tuple) and type(value) is tuple:
            return tuple(clean(item, depth + 1) for item in value)
        if isinstance(value, dict):
            return {clean(k, depth + 1): clean(v, depth + 1) for k, v in value.items()}
        return value

    for current in error_chain(exc):
        current.args = tuple(clean(arg) for arg in current.args)
        state = getattr(current, "__dict__", None)
        if state is not None:
            for name, value in list(state.items()):
                if isinstance(value, str | list | dict) or type(value) is tuple:
                    state[name] = clean(value)


#: The most errors of a chain that are looked at (a chain is one or two long; a hostile one is cut).
_CHAIN_LIMIT: Final = 8


def error_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the errors chained to it (its ``__cause__``, else its ``__context__``, and so on),
    each once, at most ``_CHAIN_LIMIT`` of them."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while (
        current is not None and len(chain) < _CHAIN_LIMIT and all(current is not e for e in chain)
    ):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


_EXCEPTION_FORMATTER: Final = logging.Formatter()


class RedactingFilter(logging.Filter):
    """A logging filter that masks credentials in a record; it never drops a record.

    The message is rendered once (``msg % args``) and, when anything had to be masked, replaced by the
    masked text (``args`` cleared). An exception or stack attached to the record is rendered and, when
    anything had to be masked, replaced by the masked text (``exc_info`` cleared, so that no formatter
    renders the original again).

    The SDK attaches one to the ``aioavatar`` logger at import. Attach another to a handler to cover every
    logger that handler serves::

        handler.addFilter(aioavatar.RedactingFilter())
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; always ``True``."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is the handler's to report
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info is not None and record.exc_info[0] is not None:
            text = record.exc_text or _EXCEPTION_FORMATTER.formatException(record.exc_info)
            masked = redact(text)
            if masked != text:
                record.exc_info, record.exc_text = None, masked
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


logger: Final = logging.getLogger("aioavatar")
if not any(isinstance(f, RedactingFilter) for f in logger.filters):
    logger.addFilter(RedactingFilter())
