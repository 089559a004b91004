"""The answer as the transport read it (:class:`RawResponse`): what the protocol decodes.

Sans I/O, like the protocol: no aiohttp here. The few headers it keeps are kept as received and read
when an error or a log line needs them; a successful answer, nearly every one, never does.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

from ._secret import mask_text

__all__ = ["RawResponse"]


@attrs.define
class RawResponse:
    """What the transport read: the status, the body and the few headers the protocol needs.

    Made once per answer and read, never changed once the transport hands it on (``attrs.evolve``
    makes a changed copy). Not frozen: a frozen class sets each of its twelve fields through
    ``object.__setattr__``, about three times the cost of building it, on every call.

    Deliberately holds no header mapping: headers carry cookies and echoes of credentials. The
    headers it keeps are kept as received and read when needed (:attr:`content_type`,
    :attr:`request_id`): a successful answer, nearly every one, never needs them. ``retry_after``
    and ``location`` are kept for an answer that is not 2xx only.
    ``body_problem`` says why the body could not be read (too big, compressed unreadably); ``body`` is
    then empty, and only a call that needs the body fails.
    ``credentials`` are the values the request carried (and the client holds): masked out of whatever
    the answer gives back, however the server escaped them. ``after_possible_effect``: an earlier
    attempt of the same call may have taken effect (it was sent and got no answer, or a 5xx), so a
    404 now may be that attempt's doing.
    """

    method: str
    path: str
    status: int
    body: bytes = attrs.field(repr=False)
    url: str = ""
    body_problem: str | None = None
    #: The ``Content-Type`` header as received (the server's text, unmasked).
    content_type_header: str = attrs.field(default="", repr=False)
    #: The ``X-Request-Id`` header as received (the server's text, unmasked).
    request_id_header: str | None = attrs.field(default=None, repr=False)
    credentials: tuple[str, ...] = attrs.field(default=(), repr=False)
    after_possible_effect: bool = False
    retry_after: str | None = attrs.field(default=None, repr=False)  # the server's text, unmasked
    location: str | None = attrs.field(default=None, repr=False)

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters (``""`` when none was sent)."""
        return self.content_type_header.partition(";")[0].strip().lower()

    @property
    def request_id(self) -> str | None:
        """The server's request id when it looks like one (an echo of anything else is dropped), with
        the request's credentials masked (a server may echo one as its "id"; a run of one is masked
        where the id is shown: in errors, and in the DEBUG line of each answer)."""
        value = self.request_id_header
        if value is None or _REQUEST_ID.fullmatch(value) is None:
            return None
        return mask_text(value, self.credentials)

    def error_fields(self) -> dict[str, Any]:
        """What every error about this answer says of it: request line, status and request id."""
        return {
            "method": self.method,
            "path": self.path,
            "url": self.url,
            "status": self.status,
            "request_id": self.request_id,
        }


_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
