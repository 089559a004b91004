"""``KalturaEmulator``: the public face of the Kaltura Avatar emulator."""

from __future__ import annotations

import time

from .._server import EmulatorServer, StateView
from ._api import KalturaApi
from ._catalog import KalturaCatalogItem
from ._requests import Incoming
from ._state import KalturaEmulatedSession, KalturaState

__all__ = ["KalturaEmulator"]


class KalturaEmulator(EmulatorServer[Incoming, KalturaEmulatedSession]):
    """A local, faithful emulator of the Kaltura Avatar session REST API.

    Use it as an async context manager: entering starts an ``aiohttp.web`` server on ``host``
    (``port=0`` picks a free port) plus a reaper that ends sessions whose keep-alives stopped;
    leaving stops both. Point a client at :attr:`base_url` (the root, as the region URLs are: the
    paths carry ``/v1``) with :attr:`ks`.

    Args:
        ks: the admin KS that ``create`` accepts.
        non_admin_ks: a KS that is valid but not an admin one: ``create`` answers it 403.
        idle_timeout: seconds a session lives without keep-alive. Kaltura publishes none: the
            documentation asks for a keep-alive every 10 s, but a live session was seen to survive
            70 s without one, so the default, 90 s, lets such a session live.
        ended_status: the status calls about an ended session get: 404 (what the live server answers)
            or 410 (what the documentation says).
        say_text_unavailable: answer every say-text 503, as the live server has been seen to.
        host: the address to listen on.
        port: the port to listen on, ``0`` for any free one.

    Raises:
        ValueError: an empty ``ks``, a ``non_admin_ks`` equal to it, an ``idle_timeout`` not above 0,
            or an ``ended_status`` other than 404 and 410.

    Inspect what happened through :attr:`journal` (every request, in arrival order, once answered),
    :meth:`requests`, :attr:`sessions` and :meth:`active_sessions`; make the next calls of an
    endpoint fail with :meth:`inject`.

    Behaviour, as emulated:

    * Every route is ``POST``; answers are ``{"success": true, ...}`` or
      ``{"success": false, "error": "..."}``. Anything else: 404 (journaled as ``"unknown"``).
    * ``create`` (``/v1/avatar-session/create``, or ``/v1/avatar-session`` as one page of the
      documentation has it) takes only ``Authorization: KS <ks>``: none or an unknown one 401
      "Invalid Kaltura Session", ``non_admin_ks`` 403 "Kaltura Session not authorized". The avatar
      is ``visualConfig.id`` (Kaltura's SDK) or ``visualConfig.avatarId`` (the documentation);
      ``voiceConfig`` needs an ``id`` and takes a positive ``speed``; otherwise 400.
    * Every other route takes only ``Authorization: Bearer <token>``, the token of that very
      session: none, a KS, an unknown token or another session's token 401. A valid token for a
      session id that does not exist is 404 "Session not found". Once a session has ended every
      call about it answers ``ended_status``.
    * ``catalog-item/list`` (admin KS, like create) lists :attr:`catalog`: avatars (``Visual``)
      and voices (``Voice``), filtered by ``filter.typeEqual`` and paged by ``pager``.
    * ``say-text`` needs ``text`` (400 "Text is required"), ``turnId`` and boolean ``isFinal``.
      ``say-audio`` needs a multipart form with ``turnId``, a positive ``duration`` and a non-empty
      ``audio`` file. An empty body counts as ``{}`` where none is needed.
    * ``init-client`` answers every call (a second one opens a second stream: ``streams`` counts).
    """

    def __init__(
        self,
        ks: str = "emulator-admin-ks",
        *,
        non_admin_ks: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = 90.0,
        ended_status: int = 404,
        say_text_unavailable: bool = False,
    ) -> None:
        if not ks:
            raise ValueError("ks must not be empty")
        if non_admin_ks is not None and (not non_admin_ks or non_admin_ks == ks):
            raise ValueError("non_admin_ks must be a non-empty KS other than ks")
        if not idle_timeout > 0:  # NaN too: its sessions would never be reaped
            raise ValueError("idle_timeout must be > 0")
        if ended_status not in (404, 410):
            raise ValueError("ended_status must be 404 or 410")
        self._state: KalturaState = KalturaState(
            ks=ks,
            non_admin_ks=non_admin_ks,
            idle_timeout=float(idle_timeout),
            ended_status=ended_status,
            say_text_unavailable=say_text_unavailable,
        )
        super().__init__(KalturaApi(self._state), self._state, host=host, port=port)

    # ---- settings ----------------------------------------------------------------------------

    ks = StateView[str]("The admin KS that ``create`` accepts.")
    non_admin_ks = StateView[str | None](
        "A valid KS that is not an admin one (``create`` answers it 403), if any."
    )
    ended_status = StateView[int]("What calls about an ended session answer: 404 or 410.")
    say_text_unavailable = StateView[bool]("Whether say-text answers 503.")
    catalog = StateView[list[KalturaCatalogItem]](
        "The avatars and voices ``catalog-item/list`` answers, in order: seeded with three avatars "
        "and two voices; add or remove items freely."
    )

    # ---- inspection ------------------------------------------------------------------------

    def end_session(self, session_id: str) -> None:
        """End a session server side, as the platform would (no request is journaled).

        Raises:
            KeyError: an unknown id (ending an ended session does nothing).
        """
        session = self.sessions[session_id]
        self._state.sweep()
        if session.is_active:
            self._state.end(session, "server", time.monotonic())
