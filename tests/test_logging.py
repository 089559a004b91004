"""``aioavatar._logging``: the redacting filter masks credential shapes and tracked credentials in any
record (exceptions and stacks included) and nothing else, and the SDK's own records carry only the
allowlisted items (no header, body or server message)."""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import threading
import weakref
from collections.abc import AsyncIterator
from urllib.parse import quote

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aioavatar._logging
from aioavatar import (
    APIError,
    AvatarError,
    LiveAvatarClient,
    RedactingFilter,
    RetryPolicy,
    Secret,
)
from aioavatar._logging import (
    MASK,
    hold_secret,
    hold_values,
    redact,
    redact_error,
    release_secret,
    release_values,
    track_secret,
)
from aioavatar._secret import mask_echoes
from aioavatar.testing import LiveAvatarEmulator

from .calls import functions_run
from .conftest import AVATAR_ID
from .leaks import wait_until
from .logs import Keep

pytestmark = pytest.mark.anyio

CANARY_KEY = "canary-api-key-3f9d1c7e5b2a"


@pytest.fixture
async def emulator() -> AsyncIterator[LiveAvatarEmulator]:
    """An emulator whose API key is the canary."""
    async with LiveAvatarEmulator(api_key=CANARY_KEY) as emu:
        yield emu


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer "),
        ("{'Authorization': 'Bearer abc'}", "{'Authorization': 'Bearer "),
        ("headers={'X-API-KEY': 'sk-live-123'}", "headers={'X-API-KEY': '"),
        ("x-api-key=sk-live-123&page=1", "x-api-key="),
        ("Authorization: KS djJ8MTIzNDU2fGFiY2RlZmdoaWprbG1ub3A=", "Authorization: KS "),
        ("url?ks=djJ8MTIzNDU2fGFiY2RlZmdoaWprbG1ub3A=", "url?ks="),
        ("sent KS djJ8MTIzNDU2fGFiY2RlZmdoaWprbG1ub3A= along", "sent KS "),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl seen", "token "),
    ],
)
def test_redact_masks_credential_shapes(text: str, kept: str) -> None:
    """Bearer tokens, X-API-KEY and Authorization values, KS values and JWTs are masked; the text
    around them is kept."""
    masked = redact(text)
    assert masked.startswith(kept + MASK)
    for secret in ("abc", "sk-live-123", "djJ8MTIz", "eyJhbGci"):
        assert secret not in masked


@pytest.mark.parametrize(
    "text",
    [
        "POST /v1/sessions/keep-alive -> 200 in 3.1 ms (attempt 1)",
        "session 0b8f2e0c-5a8e-4c1f-9d43-7a2b8f1e6c55 stopped (USER_CLOSED)",
        "thanks, the bearer of good news",
        "ks is not a KS without a value",
    ],
)
def test_redact_leaves_innocent_text_alone(text: str) -> None:
    """Allowlisted log lines and prose that merely mentions a scheme pass unchanged."""
    assert redact(text) == text


def test_tracked_secrets_are_masked_while_their_owner_lives() -> None:
    """A tracked credential is masked by value while its owner lives, and forgotten after."""

    class Owner:
        pass

    owner = Owner()
    track_secret(owner, "plain-value-without-shape-42")
    assert redact("key=plain-value-without-shape-42!") == f"key={MASK}!"
    track_secret(owner, "short")  # too short to mask by value: innocent text would suffer
    assert redact("a short word") == "a short word"
    del owner
    gc.collect()
    assert redact("plain-value-without-shape-42") == "plain-value-without-shape-42"


def test_a_held_secret_is_masked_until_its_holds_are_released_whatever_becomes_of_it() -> None:
    """``hold_secret`` (a session's token): the value is masked from the hold until the last
    release, after its ``Secret`` is gone; the weak reference by which the client masked it as long
    as that ``Secret`` lived is dropped (no object per session left for the collector); an owner
    that still lives keeps it masked past the last release."""
    value = "held-session-token-0123456789"
    secret = Secret(value)
    track_secret(secret, secret)  # as a client does with a token it returns
    assert weakref.getweakrefcount(secret) == 1
    assert hold_secret(secret) == value
    assert hold_secret(secret) == value  # a second hold on the same value
    assert weakref.getweakrefcount(secret) == 0
    del secret
    gc.collect()
    assert redact(f"t={value}.") == f"t={MASK}."
    release_secret(value)
    assert redact(f"t={value}.") == f"t={MASK}."  # one hold is left
    release_secret(value)
    assert redact(f"t={value}.") == f"t={value}."
    release_secret(value)  # one release too many changes nothing
    assert redact(f"t={value}.") == f"t={value}."

    class Owner:
        pass

    owner, other = Owner(), Secret(value)
    track_secret(owner, value)
    hold_secret(other)
    release_secret(value)
    assert redact(value) == MASK  # the owner still lives
    del owner
    gc.collect()
    assert redact(value) == value


def test_a_held_secret_outlives_prunes_and_a_release_too_many() -> None:
    """A held value stays masked across the prunes that 200 other registrations trigger (a prune that
    dropped holds unmasked running sessions); after one release too many, a new hold masks again
    (the count never goes below zero)."""
    value = "held-across-prunes-0123456789"
    hold_secret(Secret(value))

    class Owner:
        pass

    for index in range(200):
        owner = Owner()
        track_secret(owner, f"short-lived-credential-{index:05d}")
        del owner
    assert redact(f"t={value}.") == f"t={MASK}."
    release_secret(value)
    release_secret(value)
    assert redact(value) == value
    hold_secret(Secret(value))
    assert redact(value) == MASK
    release_secret(value)
    assert redact(value) == value


def test_a_clients_api_key_is_masked_in_any_aioavatar_record(
    records: list[logging.LogRecord],
) -> None:
    """A careless log call through the aioavatar logger cannot print a live client's key."""
    client = LiveAvatarClient(CANARY_KEY, base_url="http://127.0.0.1:9")
    logging.getLogger("aioavatar").warning("key is %s", CANARY_KEY)
    assert records[-1].getMessage() == f"key is {MASK}"
    assert repr(client)


def test_filter_masks_exceptions_and_stacks(records: list[logging.LogRecord]) -> None:
    """An exception logged with a bearer token in its message is rendered masked (exc_info cleared
    so that no formatter renders the original); a record with nothing to mask keeps its exc_info."""
    log = logging.getLogger("aioavatar")
    try:
        raise RuntimeError("Authorization: Bearer leaked-token-value")
    except RuntimeError:
        log.exception("failed")
    try:
        raise RuntimeError("nothing to hide")
    except RuntimeError:
        log.exception("failed again", stack_info=True)
    masked, kept = records[-2], records[-1]
    assert masked.exc_info is None
    assert masked.exc_text is not None
    assert "leaked-token-value" not in masked.exc_text
    assert MASK in masked.exc_text
    assert "leaked-token-value" not in logging.Formatter().format(masked)
    assert kept.exc_info is not None
    assert kept.stack_info is not None


def test_filter_on_a_handler_covers_other_loggers() -> None:
    """Attached to a handler, the filter masks records of any logger (aiohttp's included) and
    never drops one, even with a broken format string."""
    keep = Keep()
    keep.addFilter(RedactingFilter())
    other = logging.getLogger("aiohttp.client")
    other.addHandler(keep)
    level, propagate = other.level, other.propagate
    other.setLevel(logging.DEBUG)
    other.propagate = False  # pytest's own handler would raise on the broken format
    try:
        other.debug("sent %s", {"X-API-KEY": "sk-live-123", "Accept": "*/*"})
        other.debug("broken %s %s", "one")
    finally:
        other.removeHandler(keep)
        other.setLevel(level)
        other.propagate = propagate
    first, broken = keep.records
    assert "sk-live-123" not in first.getMessage()
    assert "'Accept': '*/*'" in first.getMessage()
    assert broken.msg == "broken %s %s"


def test_the_filter_is_installed_on_the_aioavatar_logger() -> None:
    """Importing aioavatar attaches one RedactingFilter to its logger."""
    filters = [f for f in logging.getLogger("aioavatar").filters if isinstance(f, RedactingFilter)]
    assert len(filters) == 1


async def test_allowlisted_fields_only_in_transport_records(
    emulator: LiveAvatarEmulator, records: list[logging.LogRecord]
) -> None:
    """The transport logs method, path, status, duration, attempt and request id, and for a retry the
    class of the failure: no header, no body, no server message."""
    emulator.inject("keep_alive", delay=1.0)
    emulator.inject("keep_alive", status=503, body=b'{"message": "secret server detail"}')
    emulator.inject("keep_alive", drop=True, times=2)  # the first is retried as a stale connection
    policy = RetryPolicy(retries=4, backoff_initial=0.001, backoff_max=0.005)
    async with LiveAvatarClient(
        CANARY_KEY, base_url=emulator.base_url, retry_policy=policy
    ) as client:
        with anyio.fail_after(5), contextlib.suppress(AvatarError):
            await client.keep_alive(AVATAR_ID, timeout=0.2)
    ours = [r for r in records if r.name == "aioavatar"]
    assert len(ours) >= 3
    for record in ours:
        for arg in record.args if isinstance(record.args, tuple) else ():
            assert isinstance(arg, str | int | float), arg
        text = record.getMessage()
        assert "secret server detail" not in text
        assert "{" not in text
    messages = [r.getMessage() for r in ours]
    assert any("keep-alive failed (timeout), attempt 1;" in m for m in messages)
    assert any("keep-alive failed (HTTP 503), attempt 2;" in m for m in messages)
    assert any("keep-alive failed (stale connection), attempt 3;" in m for m in messages)
    assert any("keep-alive failed (ServerDisconnectedError), attempt 4;" in m for m in messages)
    assert any("POST /v1/sessions/keep-alive -> 404 in" in m for m in messages)


async def test_lifecycle_records_carry_no_server_message(
    emulator: LiveAvatarEmulator, records: list[logging.LogRecord]
) -> None:
    """A failed beat is logged with the error's class and status, not the server's text."""
    from aioavatar import AvatarSession

    emulator.inject("keep_alive", status=400, body=b'{"message": "secret server detail"}', times=50)
    session = AvatarSession(
        AVATAR_ID, api_key=CANARY_KEY, base_url=emulator.base_url, keep_alive_interval=0.1
    )
    async with session:
        await wait_until(lambda: session.statistics().keep_alives_failed >= 1)
    texts = [r.getMessage() for r in records if r.name == "aioavatar"]
    assert any("keep-alive failed (APIError (HTTP 400))" in t for t in texts), texts
    assert not any("secret server detail" in t for t in texts)


def test_many_tokens_sharing_their_first_characters_are_each_masked() -> None:
    """2,000 live JWT-like tokens sharing their first 37 characters: each is masked wherever it
    appears, the longest match wins, and a dead owner's token is no longer masked."""

    class Owner:
        pass

    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    owners = [Owner() for _ in range(2000)]
    values = [f"{header}{index:040d}" for index in range(2000)]
    for owner, value in zip(owners, values, strict=True):
        track_secret(owner, value)
    longer = Owner()
    track_secret(longer, values[7] + "SIG")
    assert redact(f"a {values[1999]} b {values[0]} c") == f"a {MASK} b {MASK} c"
    assert redact(f"x {values[7]}SIG y") == f"x {MASK} y"
    dead = Owner()
    track_secret(dead, "eyJraWQiOiJkZWFkIn0.only-this-one")
    del dead
    gc.collect()
    assert redact("eyJraWQiOiJkZWFkIn0.only-this-one") == "eyJraWQiOiJkZWFkIn0.only-this-one"


def test_a_token_held_next_to_20000_others_looks_at_none_of_them() -> None:
    """Each session's token is tracked as its client returns it, then held by its session, and its
    start credentials held: with 20,000 sessions' values already masked, none of those registrations
    walks the others (a prune of the whole index made one of them stall the loop for 0.36 s at
    50,000 sessions), and once every value is released the index holds none of them."""
    values = [f"{n:08d}-session-token-{n:06d}" for n in range(20_000)]
    most = 0
    for value in values:
        secret = Secret(value)

        def open_session(secret: Secret = secret, value: str = value) -> None:
            track_secret(secret, secret)  # as the client returns it
            hold_secret(secret)  # as the session holds it
            hold_values((value + "-client",))  # the start answer's credentials

        with functions_run(lambda code: code.co_filename == aioavatar._logging.__file__) as calls:
            open_session()
        most = max(most, calls[0])
    assert most < 40, most  # no other value looked at, or 64 now and then; not 20,000
    assert redact(f"t={values[0]}.") == f"t={MASK}."
    release_values(tuple(v for value in values for v in (value, value + "-client")))
    assert redact(f"t={values[0]}.") == f"t={values[0]}."
    left = [value for value in values if value[:8] in aioavatar._logging._by_prefix]
    assert left == [], "released values left behind"


def test_the_values_of_dead_owners_are_dropped_as_registrations_go_on() -> None:
    """5,000 credentials whose owners die as soon as they are tracked: each is dropped from the index
    at the next look (64 values looked at again every 32 registrations), so the index never holds
    more of them than the 32 tracked since; a credential whose owner lives stays masked throughout."""
    aioavatar._logging._look_again(len(aioavatar._logging._watched))  # what earlier tests left
    buckets_before = len(aioavatar._logging._by_prefix)

    class Owner:
        pass

    kept = Owner()
    track_secret(kept, "kept-credential-0123456789")
    for n in range(5000):
        owner = Owner()
        track_secret(owner, f"{n:08d}-short-lived-credential")
        del owner
    # The 32 tracked since the last look, the last of which was alive at it, and the kept one.
    assert len(aioavatar._logging._by_prefix) - buckets_before <= 34
    assert redact("kept-credential-0123456789") == MASK


def test_one_owner_tracking_one_value_again_and_again_keeps_one_entry() -> None:
    """A client storing the same secret 1,000 times (``client.secrets.create`` of one value,
    retried): the value keeps one owner and is watched once, not a list and a line 1,000 long; it
    stays masked while the client lives, and not after."""

    class Owner:
        pass

    client = Owner()
    value = "stored-again-and-again-0123456789"
    for _ in range(1000):
        track_secret(client, value)
    owners = aioavatar._logging._by_prefix[value[:8]].values[value]
    assert not isinstance(owners, list)
    assert list(aioavatar._logging._watched).count(value) == 1
    assert redact(value) == MASK
    del client
    gc.collect()
    assert redact(value) == value


def test_a_value_whose_owners_come_and_go_is_watched_once_and_keeps_few_owners() -> None:
    """One API key, a long-lived client and 5,000 short-lived ones made with it: the key is watched
    once (not once per client) and keeps a short list of owners (the dead go at 8, 16, 32, ...
    owners), and it stays masked throughout."""

    class Owner:
        pass

    value = "one-api-key-shared-by-clients-0123456789"
    kept = Owner()
    track_secret(kept, value)
    for _ in range(5000):
        client = Owner()
        track_secret(client, value)
        del client
    owners = aioavatar._logging._by_prefix[value[:8]].values[value]
    assert not isinstance(owners, list) or len(owners) <= 16, owners  # one weak owner, or a few
    assert list(aioavatar._logging._watched).count(value) == 1
    assert redact(value) == MASK


def test_credentials_registered_from_several_threads_are_each_masked() -> None:
    """Clients made in several threads at once (their constructors register their credentials):
    no registration raises or is lost, across the prunes that registrations trigger."""

    class Owner:
        pass

    errors: list[BaseException] = []
    owners: list[list[Owner]] = [[] for _ in range(4)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can

    def register(worker: int) -> None:
        try:
            for index in range(5000):
                owner = Owner()
                if index % 2:  # half of them live on; the others die and are pruned
                    owners[worker].append(owner)
                track_secret(owner, f"thread-{worker}-credential-{index:06d}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=register, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    unmasked = [
        value
        for worker in range(4)
        for index in range(1, 5000, 2)
        if redact(value := f"thread-{worker}-credential-{index:06d}") == value
    ]
    assert unmasked == []


def test_every_run_of_twelve_characters_of_a_credential_is_masked() -> None:
    """Runs of a request's credential anywhere in an error's text (cut short by the server, side by
    side, at either end of the text, URL-encoded) are masked; runs shorter than twelve characters,
    and text that only resembles the credential, are left as they are."""
    key = "kA9-zQ+w/Lm3_Xp7Rt2Vb8Nc4=="
    text = f"{key[:14]}|{key[5:20]}{key[3:16]}|{quote(key, safe='')}|{key[:11]}|kA9-zQ"
    masked = mask_echoes(text, [key])
    assert masked == f"{MASK}|{MASK}{MASK}|{MASK}|{key[:11]}|kA9-zQ"


def test_an_error_text_too_long_to_mask_is_withheld() -> None:
    """A string of an error over 64 KiB (a hostile server's detail) is withheld whole rather than
    scanned: the error says how long it was and shows none of it."""
    key = "canary-api-key-3f9d1c7e5b2a"
    error = APIError(("x" * 70_000) + key, status=400)
    redact_error(error, (key,))
    assert error.message == "[70,027 characters withheld]"


@given(
    credential=st.text(st.sampled_from("abcdefgh0123-_+/="), min_size=12, max_size=80),
    cuts=st.lists(st.tuples(st.integers(0, 80), st.integers(12, 80)), max_size=6),
    filler=st.text(st.sampled_from("abcdefgh0123 .:"), max_size=30),
)
@settings(max_examples=300, deadline=None)
def test_no_run_of_twelve_characters_of_a_credential_survives_masking(
    credential: str, cuts: list[tuple[int, int]], filler: str
) -> None:
    """Whatever runs of the credential a text holds (overlapping, side by side, in text made of
    the same characters), none of twelve characters is left after masking."""
    text = filler.join(credential[start : start + size] for start, size in cuts) + filler
    masked = mask_echoes(text, [credential])
    windows = {credential[i : i + 12] for i in range(len(credential) - 11)}
    assert not [w for w in windows if w in masked]
