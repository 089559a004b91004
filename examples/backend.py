"""A web backend that opens a LiveAvatar session for each browser page, and never leaks one.

Run it, then open http://127.0.0.1:8080/ and press "Start"::

    python examples/backend.py --emulator                     # an embedded emulator, no account
    LIVEAVATAR_API_KEY=... python examples/backend.py --sandbox

Without ``--emulator`` the library reads ``LIVEAVATAR_API_KEY`` and ``LIVEAVATAR_BASE_URL``.

Routes:

``GET /``
    A page that asks for a session, joins its LiveKit room and holds the WebSocket below open while shown.
``POST /sessions``
    Starts a session and answers ``{"session", "livekit_url", "livekit_client_token"}``: only what the
    browser needs. ``session`` is this backend's own unguessable handle for it; the API key and the
    session token never leave the backend.
``GET /sessions/{session}/live``
    A WebSocket: the session lives exactly as long as it is open.

How each session ends (one stop per session, sent by the SDK, with this reason):

==============================================================  =============================
the page closes the WebSocket (tab closed, navigated away)        ``USER_CLOSED``
the WebSocket breaks (network lost, no close frame)               ``USER_DISCONNECTED``
no WebSocket within ``connect_grace`` seconds of the POST         ``USER_DISCONNECTED``
the backend shuts down (Ctrl-C, SIGTERM)                          ``USER_DISCONNECTED``
its maximum duration is reached                                   ``MAX_DURATION_REACHED``
the server ends it (idle timeout, credits, another client)        no stop
==============================================================  =============================

In the last two rows the page's socket is closed as the SDK ends the block. A session the server ended
is found at its next keep-alive (within ``keep_alive_interval``, 60 s by default): a stop sent before
that (the page closing, a shutdown) finds it ended, and the SDK reports the server's own reason.

The sessions run in one anyio task group, held by a background task that the app's cleanup context starts
and awaits, with one client (one connection pool) for all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

import anyio
import anyio.abc
from aiohttp import WSCloseCode, web

from aioavatar import (
    SANDBOX_AVATAR_ID,
    AvatarError,
    EndReason,
    LiveAvatarClient,
    SessionEndedError,
    SessionInfo,
)

logger = logging.getLogger("backend")

# Close codes of a WebSocket that the page closed on purpose (anything else: the connection broke).
_PAGE_CLOSED = (WSCloseCode.OK, WSCloseCode.GOING_AWAY)


class _Page:
    """One browser page and the session it holds."""

    def __init__(self, handle: str) -> None:
        self.handle = handle
        self.scope = anyio.CancelScope()  # cancelled when the backend shuts down
        self.connected = anyio.Event()
        self.closed = anyio.Event()
        self.reason = EndReason.USER_CLOSED
        self.socket: web.WebSocketResponse | None = None
        self.done = anyio.Event()

    def close(self, reason: EndReason) -> None:
        """The page is gone; the first reason given wins."""
        if not self.closed.is_set():
            self.reason = reason
            self.closed.set()


class Sessions:
    """The sessions this backend holds for browser pages, each in its own task of one task group.

    :meth:`run` owns the task group: aiohttp runs it as a background task (its documented way), so the
    sessions never depend on which task runs the app's startup and cleanup.
    """

    def __init__(
        self,
        client: LiveAvatarClient,
        *,
        avatar_id: str,
        is_sandbox: bool,
        connect_grace: float,
        max_sessions: int,
    ) -> None:
        self._client = client
        self._avatar_id = avatar_id
        self._is_sandbox = is_sandbox
        self._connect_grace = connect_grace
        self._max_sessions = max_sessions
        self._pages: dict[str, _Page] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._ready = anyio.Event()
        self._closed = anyio.Event()

    async def run(self) -> None:
        """Hold the client and the sessions' task group until :meth:`aclose`."""
        async with self._client, anyio.create_task_group() as task_group:
            self._task_group = task_group
            self._ready.set()
            await self._closed.wait()
        self._task_group = None

    async def wait_ready(self) -> None:
        await self._ready.wait()

    def page(self, handle: str) -> _Page | None:
        return self._pages.get(handle)

    async def open(self) -> tuple[str, SessionInfo] | None:
        """Start a session for a new page; ``None`` when the backend is shutting down or full.

        Raises:
            AvatarError: the session could not start (nothing is left running).
        """
        task_group = self._task_group
        if task_group is None or self._closed.is_set() or len(self._pages) >= self._max_sessions:
            return None
        page = _Page(secrets.token_urlsafe(16))
        self._pages[page.handle] = page
        info: SessionInfo | None = await task_group.start(self._hold, page)
        return None if info is None else (page.handle, info)

    async def _hold(
        self,
        page: _Page,
        *,
        task_status: anyio.abc.TaskStatus[SessionInfo | None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        started = False
        try:
            with page.scope:
                async with self._client.session(
                    self._avatar_id, is_sandbox=self._is_sandbox
                ) as session:
                    started = True
                    task_status.started(session.info)
                    with anyio.move_on_after(self._connect_grace):
                        await page.connected.wait()
                    if not page.connected.is_set():
                        page.close(EndReason.USER_DISCONNECTED)
                    await page.closed.wait()
                    await session.stop(page.reason)
            if not started:
                task_status.started(None)  # the backend began shutting down during the start
        except SessionEndedError as exc:
            logger.info("session %s ended: %s", exc.session_id, exc.end_reason)
        except AvatarError as exc:
            if not started:
                raise  # to the POST that asked for it
            # A task of the group never raises: that would cancel every other page's session.
            logger.warning("session for page %s: %s", page.handle, exc)
        finally:
            self._pages.pop(page.handle, None)
            page.done.set()
            if page.socket is not None:
                with anyio.move_on_after(1, shield=True):
                    await page.socket.close()

    async def aclose(self) -> None:
        """Stop every session (the stops run in parallel), wait for them, then end :meth:`run`."""
        self._closed.set()
        pages = list(self._pages.values())
        for page in pages:
            page.scope.cancel()
        for page in pages:
            await page.done.wait()


SESSIONS = web.AppKey("sessions", Sessions)


async def _post_session(request: web.Request) -> web.Response:
    try:
        opened = await request.app[SESSIONS].open()
    except AvatarError as exc:
        # The error names method, path, status and the server's message; never a credential.
        logger.warning("could not start a session: %s", exc)
        return web.json_response(
            {"error": "the avatar service could not start a session"}, status=502
        )
    if opened is None:
        return web.json_response({"error": "no session available, try again later"}, status=503)
    handle, info = opened
    return web.json_response(
        {
            "session": handle,
            "livekit_url": info.livekit_url,
            "livekit_client_token": info.livekit_client_token,
        }
    )


async def _live(request: web.Request) -> web.WebSocketResponse:
    page = request.app[SESSIONS].page(request.match_info["session"])
    if page is None:
        raise web.HTTPNotFound(text="no such session")
    if page.socket is not None:
        raise web.HTTPConflict(text="this session already has a page")
    socket = web.WebSocketResponse(heartbeat=20)
    page.socket = socket
    await socket.prepare(request)
    page.connected.set()
    try:
        async for _ in socket:
            pass  # the page says nothing: its presence is the message
    finally:
        page.close(
            EndReason.USER_CLOSED
            if socket.close_code in _PAGE_CLOSED
            else EndReason.USER_DISCONNECTED
        )
    return socket


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=_PAGE, content_type="text/html")


def make_app(
    *,
    avatar_id: str = SANDBOX_AVATAR_ID,
    api_key: str | None = None,
    base_url: str | None = None,
    is_sandbox: bool = False,
    emulator: bool = False,
    connect_grace: float = 30.0,
    max_sessions: int = 10,
) -> web.Application:
    """The backend as an ``aiohttp.web`` application.

    Args:
        avatar_id: the avatar every page gets.
        api_key: the LiveAvatar API key (else ``LIVEAVATAR_API_KEY``).
        base_url: the API root (else ``LIVEAVATAR_BASE_URL``, else the real API).
        emulator: serve an embedded LiveAvatar emulator and use it (no account needed).
        is_sandbox: open sandbox sessions (no credits; they end after about a minute).
        connect_grace: seconds a page has to open its WebSocket after ``POST /sessions``.
        max_sessions: sessions held at once; more ``POST /sessions`` are answered 503.

    Raises:
        ConfigurationError: no API key, a bad base URL.
    """
    if not emulator:
        LiveAvatarClient(api_key, base_url=base_url)  # a missing key or bad URL fails here, at once

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if emulator:
                from aioavatar.testing import LiveAvatarEmulator

                served = await stack.enter_async_context(LiveAvatarEmulator())
                logger.info("embedded LiveAvatar emulator on %s", served.base_url)
                client = LiveAvatarClient(served.api_key, base_url=served.base_url)
            else:
                client = LiveAvatarClient(api_key, base_url=base_url)
            sessions = Sessions(
                client,
                avatar_id=avatar_id,
                is_sandbox=is_sandbox,
                connect_grace=connect_grace,
                max_sessions=max_sessions,
            )
            holder = asyncio.create_task(sessions.run())
            await sessions.wait_ready()
            app[SESSIONS] = sessions
            try:
                yield
            finally:
                await sessions.aclose()  # already done when on_shutdown ran
                await holder

    async def on_shutdown(app: web.Application) -> None:
        # Before aiohttp waits for open handlers: stopping the sessions closes their WebSockets.
        await app[SESSIONS].aclose()

    app = web.Application()
    app.cleanup_ctx.append(lifespan)
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/", _index)
    app.router.add_post("/sessions", _post_session)
    app.router.add_get("/sessions/{session}/live", _live)
    return app


_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Avatar</title>
<button id="start">Start</button> <span id="status"></span>
<div id="avatar"></div>
<!-- The LiveKit browser SDK joins the room; any LiveKit client works. -->
<script src="https://cdn.jsdelivr.net/npm/livekit-client/dist/livekit-client.umd.min.js"></script>
<script>
const status = document.getElementById("status");
document.getElementById("start").onclick = async () => {
  const answer = await fetch("/sessions", {method: "POST"});
  if (!answer.ok) { status.textContent = (await answer.json()).error; return; }
  const {session, livekit_url, livekit_client_token} = await answer.json();
  // The session lives while this socket is open: closing the tab closes it, and the backend stops it.
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/sessions/${session}/live`);
  const room = new LivekitClient.Room();
  socket.onclose = () => { status.textContent = "ended"; room.disconnect(); };
  room.on(LivekitClient.RoomEvent.TrackSubscribed, (track) => {
    document.getElementById("avatar").appendChild(track.attach());
  });
  await room.connect(livekit_url, livekit_client_token);
  status.textContent = "live";
};
</script>
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--avatar-id", default=SANDBOX_AVATAR_ID)
    parser.add_argument("--sandbox", action="store_true", help="sandbox sessions (no credits)")
    parser.add_argument(
        "--emulator", action="store_true", help="use an embedded emulator (no account needed)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    app = make_app(avatar_id=args.avatar_id, is_sandbox=args.sandbox, emulator=args.emulator)
    web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
