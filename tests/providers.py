"""One face for both providers, so that the lifecycle tests run unchanged against each emulator."""

from __future__ import annotations

from typing import Any

import attrs

from aioavatar import (
    AvatarSession,
    BaseSession,
    EndReason,
    KalturaAvatarClient,
    KalturaAvatarSession,
    KalturaSessionRequest,
    LiveAvatarClient,
    SessionTokenRequest,
)
from aioavatar.kaltura._backend import KalturaBackend
from aioavatar.liveavatar._backend import LiveAvatarBackend
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

API_KEY = "test-api-key-0001"
AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
KS = "test-admin-ks-0001"
KALTURA_AVATAR_ID = "6604c0b6d2f1e2a3b4c5d6e7"

Session = BaseSession[Any]


@attrs.define
class Provider:
    """A provider's emulator and client, and what its lifecycle looks like on the wire.

    Attributes:
        name: ``"liveavatar"`` or ``"kaltura"``.
        enter_steps: the endpoints entering a session calls, in order (their journal names).
        stop_step: the endpoint that stops a session.
        made: every session :meth:`session` built, in order.
    """

    name: str
    emulator: LiveAvatarEmulator | KalturaEmulator
    client: LiveAvatarClient | KalturaAvatarClient
    enter_steps: tuple[str, ...]
    stop_step: str
    made: list[Session] = attrs.field(factory=list)

    def session(self, **options: Any) -> Session:
        """A session on the shared client: short keep-alive interval and stop timeout by default."""
        return self.session_of(self.client, **options)

    def session_of(self, client: LiveAvatarClient | KalturaAvatarClient, **options: Any) -> Session:
        """A session on ``client`` (a client of this provider), with :meth:`session`'s defaults."""
        options.setdefault("keep_alive_interval", 0.2)
        options.setdefault("stop_timeout", 2.0)
        session: Session
        if isinstance(client, LiveAvatarClient):
            session = client.session(AVATAR_ID, is_sandbox=True, **options)
        else:
            session = client.session(KALTURA_AVATAR_ID, **options)
        self.made.append(session)
        return session

    def new_client(self) -> LiveAvatarClient | KalturaAvatarClient:
        """Another client of this provider on its emulator (not entered)."""
        return type(self.client)(self.credential, base_url=self.emulator.base_url)

    def own_session(self, *, credential: str, **options: Any) -> Session:
        """A session that builds its own client from ``credential`` (API key or KS)."""
        session: Session
        if isinstance(self.emulator, LiveAvatarEmulator):
            session = AvatarSession(
                AVATAR_ID, api_key=credential, base_url=self.emulator.base_url, **options
            )
        else:
            session = KalturaAvatarSession(
                KALTURA_AVATAR_ID, ks=credential, base_url=self.emulator.base_url, **options
            )
        self.made.append(session)
        return session

    @property
    def credential(self) -> str:
        """The API key or KS the emulator accepts."""
        return API_KEY if isinstance(self.emulator, LiveAvatarEmulator) else KS

    def session_with_idle_window(self, idle_timeout: float) -> Session:
        """A session whose provider's idle window is ``idle_timeout`` (rule 6 without the wait)."""
        backend: Any
        if isinstance(self.client, LiveAvatarClient):
            request = SessionTokenRequest(avatar_id=AVATAR_ID, is_sandbox=True)
            backend = LiveAvatarBackend(self.client, request)
        else:
            backend = KalturaBackend(
                self.client, KalturaSessionRequest(avatar_id=KALTURA_AVATAR_ID)
            )
        backend.idle_timeout = idle_timeout
        session: Session = BaseSession(
            backend, keep_alive_interval=0.1, stop_timeout=2.0, end_reason_for=None
        )
        self.made.append(session)
        return session

    def end_on_server(self, session_id: str) -> EndReason:
        """End a session server side; return the end reason the SDK can learn."""
        if isinstance(self.emulator, LiveAvatarEmulator):
            self.emulator.end_session(session_id, EndReason.ZOMBIE_SESSION_REAP)
            return EndReason.ZOMBIE_SESSION_REAP
        self.emulator.end_session(session_id)
        return EndReason.UNKNOWN  # Kaltura tells no reason

    def only_session(self) -> Session:
        (session,) = self.made
        return session

    def active(self) -> list[str]:
        return [s.id for s in self.emulator.active_sessions()]

    def stops(self, session_id: str) -> int:
        """How many stop requests the emulator received for the session (retries included)."""
        return len(self.emulator.requests(self.stop_step, session_id=session_id))

    def assert_stopped_once(self, reason: EndReason, session: Session | None = None) -> None:
        """The session (the only one, by default) was stopped by exactly one request, with
        ``reason`` (sent to LiveAvatar; recorded by the session for Kaltura, whose end has none),
        and nothing is left running."""
        session = session or self.only_session()
        sid = session.session_id
        assert session.end_reason is reason
        assert self.stops(sid) == 1
        if isinstance(self.emulator, LiveAvatarEmulator):
            assert self.emulator.stop_reasons(sid) == [reason.value]
            assert self.emulator.sessions[sid].end_reason is reason
        else:
            assert self.emulator.sessions[sid].ended_by == "end"
        assert sid not in self.active()


def session_on(client: LiveAvatarClient, **kw: Any) -> AvatarSession:
    """A LiveAvatar sandbox session on ``client``: short keep-alive interval and stop timeout by default."""
    kw.setdefault("keep_alive_interval", 0.2)
    kw.setdefault("stop_timeout", 2.0)
    return client.session(AVATAR_ID, is_sandbox=True, **kw)


# The (provider, endpoint) of the requests of open, for tests parametrized with ``indirect=["provider"]``.
# Every request that opens a session remotely: a cancel while one is in flight lets it finish.
OPEN_STEPS = [("liveavatar", "start"), ("kaltura", "create"), ("kaltura", "init_client")]
# The first request that can open a session: refused, it leaves nothing to stop.
FIRST_OPEN_STEPS = [("liveavatar", "start"), ("kaltura", "create")]
# The last request of open: when it fails in a way that may hide a running session, a stop follows.
LAST_OPEN_STEPS = [("liveavatar", "start"), ("kaltura", "init_client")]
