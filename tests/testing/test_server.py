"""What every emulator shares (``testing/_server.py``): where a client finds it."""

from __future__ import annotations

import socket

import pytest

from aioavatar import KalturaAvatarClient, LiveAvatarClient
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from ..conftest import API_KEY, AVATAR_ID, KS

pytestmark = pytest.mark.anyio


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("0.0.0.0", "http://127.0.0.1:"),  # noqa: S104 - the wildcard bind is what is tested
        pytest.param(
            "::",
            "http://[::1]:",
            marks=pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 on this machine"),
        ),
    ],
)
async def test_an_emulator_on_every_address_gives_the_loopback_one_to_clients(
    host: str, loopback: str
) -> None:
    """Listening on a wildcard address (``aioavatar emulator --host 0.0.0.0``), an emulator's
    ``base_url`` names the loopback address: a wildcard is no address to connect to, and a client
    refuses plain http anywhere else. Both providers' clients complete a call through it."""
    async with LiveAvatarEmulator(API_KEY, host=host, port=0) as emulator:
        assert emulator.base_url.startswith(loopback)
        async with LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client:
            token = await client.create_session_token(AVATAR_ID)
        assert [r.path for r in emulator.requests()] == ["/v1/sessions/token"]
        assert token.session_id in emulator.sessions
    async with KalturaEmulator(ks=KS, host=host, port=0) as kaltura:
        assert kaltura.base_url.startswith(loopback)
        async with KalturaAvatarClient(KS, base_url=kaltura.base_url) as k_client:
            created = await k_client.create_session("avatar-1")
        assert created.session_id in kaltura.sessions


async def test_an_emulator_on_a_named_address_keeps_its_name() -> None:
    """An address that is not a wildcard is given as it is (``127.0.0.1`` stays, no brackets)."""
    async with LiveAvatarEmulator(API_KEY, host="127.0.0.1", port=0) as emulator:
        assert emulator.base_url.startswith("http://127.0.0.1:")
