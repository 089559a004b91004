"""``LiveAvatarEmulator``: the public face of the LiveAvatar emulator."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, ClassVar

from aioavatar._enums import EndReason

from .._server import EmulatorServer, StateView
from ._account import Collection
from ._api import LiveAvatarApi
from ._routes import Incoming
from ._state import SANDBOX_AVATAR_ID, EmulatedSession, LiveAvatarState
from ._ws import LiteSocketEmulator

__all__ = ["LiveAvatarEmulator"]


class LiveAvatarEmulator(EmulatorServer[Incoming, EmulatedSession]):
    """A local, faithful emulator of the LiveAvatar session REST API.

    Use it as an async context manager: entering starts an ``aiohttp.web`` server on ``host``
    (``port=0`` picks a free port) plus a background reaper that ends sessions on idle timeout and
    maximum duration; leaving stops both. Point a client at :attr:`base_url` with :attr:`api_key`.

    Args:
        api_key: the API key the emulated account accepts.
        host: the address to listen on.
        port: the port to listen on, ``0`` for any free one.
        idle_timeout: how long a started session lives without keep-alive (the real API: 300 s).
        sandbox_max_duration: the cap of sandbox sessions (the real API: about 60 s).
        tier_max_session_duration: the account tier's limit of ``max_session_duration`` in
            seconds: a longer request is refused (400), and a non-sandbox session that asks for
            none gets this one, announced in its start answer as the real API does (pipecat
            requires it there). LiveAvatar publishes no tier's number; an hour by default.
        rate_limit: requests allowed per caller (the API key, or a session token), per endpoint,
            per fixed one-second window; beyond it 429 with ``Retry-After`` and
            ``X-RateLimit-Reset``. ``None`` (the default): no limit. LiveAvatar publishes no
            numbers.
        time_scale: how long LITE audio takes to play, relative to its duration (``0.1``: ten
            times faster than real time, ``0``: at once); also ``ws.time_scale``.
        connect_delay: seconds between a LITE socket's ``connecting`` and ``connected``
            (``math.inf``: never); also ``ws.connect_delay``.
        max_message_size: LITE frames longer than this close the socket with 1009 (the real
            server takes at most 1 MB); also ``ws.max_message_size``.
        credits: the account's starting balance (10,000 by default). Paying sessions draw it down
            pro rata to the second, 2 credits a minute FULL and 1 LITE (sandbox ones nothing); a
            start that cannot pay one minute is refused (400 ``{"code": 4000}``), and when it runs
            out every paying session ends with ``NO_CREDITS``.

    Raises:
        ValueError: an empty ``api_key``, a duration or size that is not above 0, or a negative
            ``time_scale`` or ``connect_delay``.

    Inspect what happened through :attr:`journal` (every request, in arrival order, once answered),
    :meth:`requests`, :meth:`stop_reasons` and :attr:`sessions`; make the next calls of an endpoint
    fail with :meth:`inject`.

    Behaviour where the real API is not documented, as emulated:

    * Validation follows the JSON Schema of the documented bodies (OpenAPI 3.1), not pydantic's lax
      coercions: ``60.0`` is an integer (a number with no fractional part) but ``"60"`` is not, nor
      ``"true"`` a boolean, so that an SDK's encoding mistakes show up; no documented field is
      nullable, so ``null`` is refused (422) like any value of the wrong type; unknown keys are
      ignored.
    * Auth runs before validation (401 wins over 422). When a request carries both credentials,
      the session token is used where it is accepted, else the API key.
    * ``type`` is required on the list call; results are newest first; a page past the end is
      empty. ``embed_id`` never matches (API sessions have no embed). A session stopped before it
      was started is listed as historic (duration 0); a created, never started session is in
      neither list.
    * The transcript of an ended session answers 200 with ``session_active: false``.
    * Start of an already started or ended session: 400 ``{"code": 4000}``; keep-alive of a
      created session: 400. Created sessions never expire.
    * Credits are pro rata to the second; ``max_session_duration`` in the start answer is the
      enforced limit (the sandbox cap when lower); connector sessions
      (``elevenlabs_agent_config``, ``openai_realtime_config``, ``gemini_realtime_config``) get no
      ``ws_url``. The LITE WebSocket is served at ``ws_url``: see :attr:`ws`.
    * The account's resources (``/v1/avatars``, ``/v1/voices``, ``/v1/contexts``,
      ``/v1/llm-configurations``, ``/v1/secrets``, ``/v1/memory``, ``/v1/languages``,
      ``/v1/users/credits``, ``/v2/embeddings``) are seeded: the sandbox avatar and two more among
      the public avatars, one avatar of the account, three public voices and a private one, five
      languages; :meth:`add_avatar` and :meth:`add_voice` seed more. Paged lists link ``next`` and
      ``previous`` with absolute URLs on the emulator's root, as the real API does. A deleted
      resource is neither listed nor found (404). ``credits_left`` has four decimals.
    * Wrong method on a known path: 405 with ``Allow``; unknown path: 404
      ``{"detail": "Not Found"}`` (both journaled as ``"unknown"``, except ``DELETE`` of a session,
      journaled as ``"delete"``).
    """

    SANDBOX_AVATAR_ID: ClassVar[str] = SANDBOX_AVATAR_ID
    """The one avatar sandbox sessions may use (the real API's)."""

    def __init__(
        self,
        api_key: str = "emulator-api-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = 300.0,
        sandbox_max_duration: float = 60.0,
        tier_max_session_duration: int = 3600,
        rate_limit: int | None = None,
        time_scale: float = 1.0,
        connect_delay: float = 0.05,
        max_message_size: int = 1_000_000,
        credits: Decimal | int | str = 10_000,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        for name, value in [
            ("idle_timeout", idle_timeout),
            ("sandbox_max_duration", sandbox_max_duration),
            ("tier_max_session_duration", tier_max_session_duration),
            ("max_message_size", max_message_size),
        ]:
            if not value > 0:
                raise ValueError(f"{name} must be > 0")
        try:
            balance = Decimal(credits)
        except (ArithmeticError, TypeError, ValueError):
            balance = Decimal("NaN")
        if not balance.is_finite() or balance < 0:
            raise ValueError("credits must be a finite number >= 0")
        if rate_limit is not None and not rate_limit > 0:
            raise ValueError("rate_limit must be > 0, or None for no limit")
        for name, value in [("time_scale", time_scale), ("connect_delay", connect_delay)]:
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0")
        self._state: LiveAvatarState = LiveAvatarState(
            api_key=api_key,
            idle_timeout=float(idle_timeout),
            sandbox_max_duration=float(sandbox_max_duration),
            tier_max_session_duration=int(tier_max_session_duration),
            rate_limit=rate_limit,
            credits=balance,
        )
        self.ws = LiteSocketEmulator(
            self._state,
            connect_delay=connect_delay,
            time_scale=time_scale,
            max_message_size=max_message_size,
        )
        """The LITE WebSocket served at each LITE session's ``ws_url``: settings, journal, controls."""
        super().__init__(LiveAvatarApi(self._state, self.ws), self._state, host=host, port=port)

    # ---- settings ----------------------------------------------------------------------------

    api_key = StateView[str]("The API key the emulated account accepts.")
    sandbox_max_duration = StateView[float]("The duration cap of sandbox sessions, in seconds.")
    tier_max_session_duration = StateView[int](
        "The account tier's limit of ``max_session_duration`` (and its default), in seconds."
    )

    @property
    def rate_limit(self) -> int | None:
        """Requests per caller, per endpoint, per second; ``None`` for no limit."""
        return self._state.limiter.limit

    def credits_left(self) -> Decimal:
        """The account's balance now: the starting credits less what sessions have used."""
        return self._state.credits_left()

    def add_credits(self, amount: Decimal | int | str) -> Decimal:
        """Add ``amount`` (negative: take it away) to the balance; return the new balance."""
        self._state.account.credits += Decimal(amount)
        return self.credits_left()

    def add_avatar(self, name: str = "Seeded avatar", *, public: bool = False) -> dict[str, Any]:
        """Seed one more avatar, the account's or (``public=True``) LiveAvatar's; return it as
        the API lists it (changing the dict changes what the emulator answers)."""
        return self._state.account.add_avatar(
            name, public=public, now=self._state.iso(time.monotonic())
        )

    def add_voice(
        self, name: str = "Seeded voice", *, voice_type: str = "public"
    ) -> dict[str, Any]:
        """Seed one more voice (``voice_type`` ``"public"`` or ``"private"``); return it as listed."""
        if voice_type not in ("public", "private"):
            raise ValueError("voice_type must be 'public' or 'private'")
        return self._state.account.add_voice(
            name, voice_type=voice_type, now=self._state.iso(time.monotonic())
        )

    def resources(self, kind: str) -> list[dict[str, Any]]:
        """The account's live resources of ``kind`` (``"avatars"``, ``"public_avatars"``,
        ``"voices"``, ``"contexts"``, ``"llm_configurations"``, ``"secrets"``, ``"memories"``,
        ``"embeds"``) as the emulator holds them, secrets' values included.

        Raises:
            ValueError: an unknown kind.
        """
        collection = getattr(self._state.account, kind, None)
        if kind.startswith("_") or not isinstance(collection, Collection):
            raise ValueError(f"unknown kind of resource {kind!r}")
        return collection.live()

    # ---- inspection ------------------------------------------------------------------------

    def stop_reasons(self, session_id: str) -> list[str]:
        """The ``reason`` of every stop request received for ``session_id``, in arrival order.

        Counts every stop request the journal holds for the session, whatever it was answered
        (including faulted and rejected ones), with the API's defaults: a stop with no body at all
        counts as ``"USER_CLOSED"`` (the OpenAPI's body default), one whose body has no reason as
        ``"UNKNOWN"`` (the field's). Requests whose body is not a JSON object are skipped.
        """
        reasons: list[str] = []
        for r in self.requests("stop", session_id=session_id):
            if r.body is None and r.raw_body is None:
                reasons.append(EndReason.USER_CLOSED.value)
            elif isinstance(r.body, dict):
                reason = r.body.get("reason")
                reasons.append(EndReason.UNKNOWN.value if reason is None else str(reason))
        return reasons

    def end_session(
        self, session_id: str, reason: EndReason = EndReason.ZOMBIE_SESSION_REAP
    ) -> None:
        """End a session server side, as the platform would (no request is journaled).

        Its LITE sockets say ``closed`` and close.

        Raises:
            KeyError: an unknown id (ending an already ended session does nothing).
        """
        session = self.sessions[session_id]
        self._state.sweep()
        if session.state != "ended":
            self._state.end(session, reason, time.monotonic())
