"""A client's memo of the calls it sends again and again, prepared once each.

Preparing a call (checking its input, encoding its body, forming its URL and headers, noting the
credentials to mask) costs a twelfth of a keep-alive's instructions, more than what bare aiohttp spends
around its own request. A service that drives its sessions by hand calls ``keep_alive(session_id, ...)``
with the same arguments every few seconds, and creates token after token for the same avatar: those
calls are prepared the first time and reused. A prepared call is never changed once made (read-only
by contract, not frozen: see ``PreparedRequest``), and the memo's are never handed out; sending one
from many tasks at once is what every session's keep-alive already does.

The memo is bounded (the oldest entry is dropped first), shows none of what it holds, and holds
nothing the client does not: a session's keep-alive (its id and token) until a stop or end of that
session through the client, or the client's exit, forgets it. Only plain values are kept: a token
given as anything but a ``str`` or a :class:`~aioavatar.Secret` holding one (a subclass, whose
equality could be anything; a value that fails its check) is prepared each time, as before.
"""

from __future__ import annotations

from typing import Any

from ._secret import Secret

__all__ = ["KEPT_KEEP_ALIVES", "CallMemo", "plain_token"]

#: How many sessions' keep-alives a client keeps prepared for ``keep_alive(session_id, ...)``.
KEPT_KEEP_ALIVES = 1024


class CallMemo(dict[Any, Any]):
    """At most ``size`` entries by key (``get`` is the dict's own), the oldest dropped first."""

    __slots__ = ("_size",)

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size

    def put(self, key: Any, value: Any) -> None:
        """Keep ``value`` under ``key``, dropping the oldest entry when full."""
        if len(self) >= self._size and key not in self:
            del self[next(iter(self))]
        self[key] = value

    def forget(self, key: Any) -> None:
        """Drop what is kept under ``key`` (nothing when there is none)."""
        self.pop(key, None)

    def __repr__(self) -> str:  # it holds sessions' tokens: never shown
        return f"<{type(self).__name__}: {len(self)} of {self._size}>"


def plain_token(token: object) -> bool:
    """Whether a session's token (a ``str``, a :class:`~aioavatar.Secret`, or ``None`` for the account's
    credential) may key a kept call: exactly one of those, holding exactly a ``str``. Read without
    binding the token's value to a name (a traceback's locals would show it)."""
    if token is None or type(token) is str:
        return True
    return type(token) is Secret and type(token.get_secret_value()) is str
