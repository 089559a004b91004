"""What an idle session costs the garbage collector, counted (not timed): every object the collector
tracks is work for each of its full collections, which stall the loop at 10,000 sessions."""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import types
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from aioavatar import EndReason, LiveAvatarClient
from aioavatar._keepalive import KeepAlive
from aioavatar._validation import check_credential

from .calls import functions_run
from .liveavatar.lite import lite
from .providers import AVATAR_ID, Provider

pytestmark = pytest.mark.anyio

#: The most objects an idle session may add, beyond the task that holds its block, halfway to one
#: object more (a count moves by about 0.1 between runs). Measured at 4.0-4.2 (LiveAvatar, with a
#: deadline, and Kaltura) when this was written: the session, its backend,
#: its keep-alive, the bound ``__aexit__`` that ``async with`` keeps. A loop timer per timer, a
#: generator context manager, a task group, a task per session, a closure per beat, the token request
#: kept after it was sent, a cancel scope around the block (with anyio's record of a task it had never
#: seen: 15 and 16), a session without slots (CPython gave its 30 attributes a dict: 11.1 and 12.2), a
#: relay between the session and its keep-alive and backend, the token model kept beside its Secret
#: (10.1 and 11.1 with both), the token kept as a Secret with the weak reference that masked it (8.0
#: and 9.2), the start answer kept as its model (6.1 and 7.3), or the prepared beat kept as a call
#: (5.1 and 5.1) would break it (each was there once: 75 objects, then 29, 14, 15, 12, 10.1, 8.0,
#: 6.1, 5.1).
MAX_OBJECTS_PER_SESSION = 4.5


@pytest.fixture(params=["liveavatar", "kaltura"])
def emulator_process(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """An emulator in a process of its own, so that its objects are not counted with the client's."""
    command = [sys.executable, "-m", "aioavatar", "emulator", "--provider", request.param]
    with subprocess.Popen(  # noqa: S603 - this interpreter, this package
        [*command, "--port", "0", "--json"], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        try:
            yield {"provider": request.param, **json.loads(process.stdout.readline())}
        finally:
            process.terminate()


def test_an_idle_session_adds_few_objects_for_the_garbage_collector(
    emulator_process: dict[str, Any],
) -> None:
    """200 idle sessions more add at most 4.5 tracked objects each beyond the plain asyncio task that
    holds each block (200 plain waiting tasks more are the baseline, measured the same way; see
    ``tests/footprint.py``), the median of three measurements. Counted in an interpreter of its
    own: in a test process, what earlier tests left behind is freed at its own pace, and once moved
    a count by a whole object per session (measurements of 4.2, 5.5 and 5.0 in a suite run of the
    CI; 3.9-4.1 alone, where a suite run had also once shrunk one to 4.93)."""
    provider = emulator_process["provider"]
    result = subprocess.run(  # noqa: S603 - this interpreter, this package's tests
        [
            sys.executable,
            "-m",
            "tests.footprint",
            provider,
            emulator_process["base_url"],
            emulator_process["api_key"],
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
        timeout=300,  # a hang, not a speed limit
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert len(measured) == 3, measured
    assert 0 < statistics.median(measured) <= MAX_OBJECTS_PER_SESSION, measured


@pytest.mark.parametrize("ending", ["exit", "server"])
async def test_an_ended_session_is_freed_without_the_garbage_collector(
    provider: Provider, ending: str
) -> None:
    """Once its block is over, nothing of a session makes a reference cycle: dropping it frees it
    at once, by reference counting. Thousands of sessions ending together are then not thousands of
    objects of garbage the collector has to find (and walk, again and again, until it does). The
    session is its keep-alive's owner and its backend's hooks: both let go of it when it ends,
    whether its block exits or the server ends it first (a beat answered 404, rule 7)."""
    with _collector_off():
        async with provider.session(keep_alive_interval=0.05) as session:
            if ending == "server":
                provider.end_on_server(session.session_id)
                with anyio.fail_after(10):
                    await session.wait_ended()
        assert session.end_reason is not None
        freed = _forgotten(provider, session)
        del session
        assert freed() is None


async def test_a_lite_session_that_used_its_realtime_connection_is_freed_without_the_collector(
    client: LiveAvatarClient,
) -> None:
    """A LITE session whose block opened its realtime connection (which holds the session, to report
    a lost socket) is freed at once too: the backend lets go of the connection when the session
    ends."""
    with _collector_off():
        async with lite(client, keep_alive_interval=20) as session, session.realtime() as rt:
            assert rt.connected
        assert session.end_reason is not None
        freed = weakref.ref(session)
        del session, rt
        assert freed() is None


@pytest.mark.parametrize("block_raises", [False, True])
async def test_a_session_whose_keep_alive_failed_is_freed_without_the_collector(
    provider: Provider, monkeypatch: pytest.MonkeyPatch, block_raises: bool
) -> None:
    """Rule 4 (the keep-alive itself fails: a bug, simulated in its re-arming): the block is
    cancelled and ``async with`` raises the failure, or the block's own exception when it turns
    its cancellation into one. Either way the ended session is freed at once: neither the failure
    it kept nor the frames in that failure's traceback (the keep-alive's, the lifecycle's) hold
    the session in a cycle."""

    def broken(self: KeepAlive, now: float, *, sent: bool) -> None:
        raise RuntimeError("a bug in re-arming the beat")

    monkeypatch.setattr(KeepAlive, "_rearm", broken)
    with _collector_off():
        with pytest.raises(ValueError if block_raises else RuntimeError):
            async with provider.session(keep_alive_interval=0.05) as session:
                try:
                    await anyio.sleep(30)
                except anyio.get_cancelled_exc_class():
                    if block_raises:
                        raise ValueError("the block's own error") from None
                    raise
        assert session.end_reason is EndReason.SERVER_ERROR
        freed = _forgotten(provider, session)
        del session
        assert freed() is None


@contextlib.contextmanager
def _collector_off() -> Iterator[None]:
    """No garbage collection inside: what is freed is freed by reference counting."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _forgotten(provider: Provider, session: Any) -> weakref.ref[Any]:
    """A weak reference to ``session``, which the fixture's own list of the sessions it made no
    longer holds."""
    provider.made.remove(session)
    return weakref.ref(session)


#: The most functions of the SDK that entering a LiveAvatar session runs (its token and start calls
#: included; a coroutine's every resumption counts). 168-169 on Python 3.11 since a start's call is
#: built from parts its client made once (171-172 before, and 166-167 on 3.12 and 3.13 then); 179
#: before that, when the log filter's registry walked every credential it held every so many
#: registrations, the session's token was first masked by a weak reference it dropped at once, and
#: compacting the start answer looked up a reader for each of its plain values.
MAX_SDK_CALLS_PER_OPEN = 172


def _sdk_function(code: types.CodeType) -> bool:
    name = code.co_filename
    if "attrs generated" in name or "cattrs generated" in name:
        return True
    return "/aioavatar/" in name and "/aioavatar/testing/" not in name  # not the emulator's


async def test_entering_a_session_runs_few_functions_of_the_sdk(client: LiveAvatarClient) -> None:
    """What opening a session costs beyond its two requests is the SDK's own Python, run for each of
    thousands of sessions opened together: the functions it runs, counted (the emulator's, in this
    process, left out), stay within ``MAX_SDK_CALLS_PER_OPEN``."""
    for _ in range(3):  # first uses: imports, caches, the pool's connection
        async with client.session(AVATAR_ID):
            pass
    counts = []
    for _ in range(5):
        session = client.session(AVATAR_ID)
        with functions_run(_sdk_function) as calls:
            await session.__aenter__()
        await session.__aexit__(None, None, None)
        counts.append(calls[0])
    assert min(counts) <= MAX_SDK_CALLS_PER_OPEN, counts


async def test_building_a_session_runs_no_import(provider: Provider) -> None:
    """``client.session(...)`` finds its session class once, not through an import statement run
    for each session (the import system's lookups cost a session 1.5 us)."""
    provider.session()  # the first one imports
    with functions_run(lambda code: "importlib" in code.co_filename) as calls:
        provider.session()
    assert calls[0] == 0


async def test_a_session_scans_each_credential_it_receives_once(provider: Provider) -> None:
    """A session's token is checked as a credential (printable ASCII, no white space: a scan of all
    of it) when its answer is read, and not again by the calls that send it (start, keep-alive,
    stop): the session vouches for the string it holds. Counted over a whole session, entered and
    left: no credential string is scanned twice."""
    scanned: collections.Counter[str] = collections.Counter()

    def count(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is check_credential.__code__:
            value = frame.f_locals["value"]
            if type(value) is str:
                scanned[value] += 1

    session = provider.session()
    sys.setprofile(count)
    try:
        async with session:
            pass
    finally:
        sys.setprofile(None)
    assert scanned, "no credential was checked: the count looks at the wrong function"
    assert max(scanned.values()) == 1, sorted(scanned.values())
