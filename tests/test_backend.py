"""``aioavatar._backend``: what every provider's backend keeps for a running session, and how little of
it the garbage collector walks."""

from __future__ import annotations

import gc

import pytest

from aioavatar import KalturaAvatarClient, Secret
from aioavatar._backend import TokenBackend

from .leaks import wait_until
from .providers import Provider

pytestmark = pytest.mark.anyio


async def test_a_sessions_keep_alive_is_kept_as_values_and_sent_as_its_client_prepares_it(
    provider: Provider,
) -> None:
    """The keep-alive a running session prepared once is kept as a tuple the collector stops
    tracking (the prepared call itself was one more object each full collection walked); put
    together again for each beat, it equals what the client prepares for that session, and every
    beat reaches the server with the session's token."""
    async with provider.session(keep_alive_interval=0.05) as session:
        backend = session._backend
        assert isinstance(backend, TokenBackend)
        gc.collect()
        gc.collect()  # the tuple is let go of once the credentials' tuple in it has been
        assert type(backend._beat) is tuple
        assert not gc.is_tracked(backend._beat)
        token = Secret(provider.emulator.sessions[session.session_id].token)
        client = provider.client
        if isinstance(client, KalturaAvatarClient):
            expected = client.prepare_keep_alive(session.session_id, token=token)
        else:
            expected = client.prepare_keep_alive(session.session_id, session_token=token)
        assert backend._require_beat() == expected
        assert backend._require_beat() is not backend._require_beat()

        def beats() -> list[str | None]:
            requests = provider.emulator.requests("keep_alive", session_id=session.session_id)
            return [request.auth for request in requests if request.status == 200]

        await wait_until(lambda: len(beats()) >= 3)
    assert set(beats()) == {"bearer"}


async def test_a_session_that_is_not_running_has_no_keep_alive_to_send(provider: Provider) -> None:
    """Before the session runs (and so before anything was prepared), asking for its keep-alive is
    a ``RuntimeError``, not a call sent with missing parts."""
    backend = provider.session()._backend
    assert isinstance(backend, TokenBackend)
    with pytest.raises(RuntimeError, match="not running"):
        backend._require_beat()
