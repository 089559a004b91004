"""``aioavatar._compact``: a model kept as plain values comes back equal, the values are nothing the
garbage collector keeps tracking, and a model that cannot be built again is kept as it is."""

from __future__ import annotations

import gc
import math
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioavatar import KalturaSessionInfo, KalturaTurnServer, SessionInfo
from aioavatar._compact import compact, expand

from .providers import Provider

pytestmark = pytest.mark.anyio

_text = st.text(max_size=40)


@given(
    session_id=_text,
    livekit_url=_text,
    client_token=_text,
    agent_token=st.none() | _text,
    duration=st.none() | st.floats(allow_nan=False),
    ws_url=st.none() | _text,
)
def test_a_start_answer_comes_back_equal_from_values_the_collector_lets_go_of(
    session_id: str,
    livekit_url: str,
    client_token: str,
    agent_token: str | None,
    duration: float | None,
    ws_url: str | None,
) -> None:
    """Any LiveAvatar start answer: compacted, it is a tuple the collector stops tracking once it has
    looked at it (the model would be walked by every full collection), and it expands to an equal
    model of the same class, again on every expansion."""
    info = SessionInfo(session_id, livekit_url, client_token, agent_token, duration, ws_url)
    shape, kept = compact(info)
    assert shape is not None
    assert type(kept) is tuple
    gc.collect()
    assert not gc.is_tracked(kept)
    first, second = expand(shape, kept), expand(shape, kept)
    assert type(first) is SessionInfo
    assert first == second == info
    assert first is not second


def test_a_nested_model_is_compacted_with_it_and_shapes_are_shared() -> None:
    """Kaltura's answer nests its TURN server: both become tuples nobody tracks, and two answers
    share one shape (a session holds no shape of its own)."""
    infos = [
        KalturaSessionInfo(f"https://whep/{i}", KalturaTurnServer(f"turn:{i}", "user", "cred"))
        for i in range(2)
    ]
    (shape, kept), (other_shape, _) = (compact(info) for info in infos)
    assert shape is other_shape
    gc.collect()
    gc.collect()  # the outer tuple is let go of once its inner one has been
    assert not gc.is_tracked(kept)
    assert expand(shape, kept) == infos[0]


def _plain(x: Any) -> Any:
    return x


@attrs.frozen
class _Converted:
    value: str = attrs.field(converter=_plain)


@attrs.frozen
class _Validated:
    value: str = attrs.field(validator=attrs.validators.instance_of(str))


@attrs.frozen
class _KeywordOnly:
    value: str = attrs.field(kw_only=True)


@attrs.frozen
class _PostInit:
    value: str

    def __attrs_post_init__(self) -> None:
        pass


@attrs.frozen
class _HoldsAList:
    values: list[str]


@attrs.frozen
class _OwnInit:
    """Its own ``__init__`` (attrs writes none): built from its values, it would double again."""

    value: int

    def __init__(self, value: str) -> None:
        self.__attrs_init__(int(value) * 2)  # type: ignore[attr-defined]


@attrs.frozen(init=False)
class _KeywordInit:
    value: str

    def __init__(self, *, value: str) -> None:
        self.__attrs_init__(value)


class _InfoWithOwnInit(SessionInfo):
    """A subclass of a compactable model with an ``__init__`` of its own."""

    def __init__(self, token: str) -> None:
        super().__init__("id", "wss://lk", token)


@attrs.define
class _Mutable:
    value: str


@attrs.frozen(eq=False)
class _NoEquality:
    value: str


@attrs.define
class _Cycle:
    other: Any = None


def _cycle() -> _Cycle:
    model = _Cycle()
    model.other = model
    return model


@pytest.mark.parametrize(
    "model",
    [
        _Converted("a"),
        _Validated("a"),
        _KeywordOnly(value="a"),
        _PostInit("a"),
        "a plain string",
        _OwnInit("2"),  # type: ignore[arg-type]
        _KeywordInit(value="a"),
        _InfoWithOwnInit("secret-livekit-token"),
        _Mutable("a"),
        _NoEquality("a"),
        _cycle(),
    ],
    ids=[
        "converter",
        "validator",
        "kw_only",
        "post_init",
        "not a model",
        "own init",
        "keyword init",
        "subclass with own init",
        "mutable",
        "no equality",
        "cycle",
    ],
)
def test_what_cannot_be_built_again_from_its_values_is_kept_as_it_is(model: object) -> None:
    """A converter, validator or post-init would run again on the values, a keyword-only field
    cannot be passed by position, an ``__init__`` of its own may build something else or refuse the
    values, a change made through a mutable model would be lost, a model without equality cannot be
    shown to come back the same, a cycle has no end: each such model is kept (``compact`` never
    raises), and expands to the very same object."""
    shape, kept = compact(model)
    assert shape is None
    assert kept is model
    assert expand(shape, kept) is model


@attrs.frozen(eq=False)
class _OwnEquality:
    """Equality of its own, which a model of one value refuses: only attrs' own is trusted once."""

    value: str

    def __eq__(self, other: object) -> bool:
        return type(other) is _OwnEquality and other.value == self.value != "refused"

    __hash__ = None  # type: ignore[assignment]


def test_a_model_with_equality_of_its_own_is_checked_each_time() -> None:
    """A shape is built again to check only the first time when attrs wrote its ``__init__`` and
    ``__eq__``; with an ``__eq__`` of its own, every model is: the one it refuses is kept as it is,
    after one of the same class was compacted."""
    assert compact(_OwnEquality("a"))[0] is not None
    refused = _OwnEquality("refused")
    assert compact(refused) == (None, refused)


def test_a_shape_of_attrs_own_methods_is_built_again_to_check_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check (build again, compare, try to change) runs for the first start answer of a shape,
    not for every session's: a session compacts its start answer on each start."""
    from aioavatar import _compact

    built = 0
    real_expand = _compact.expand

    def counting(shape: Any, kept: Any) -> Any:
        nonlocal built
        built += 1
        return real_expand(shape, kept)

    monkeypatch.setattr(_compact, "expand", counting)
    monkeypatch.setattr(_compact, "_verified", set())
    infos = [SessionInfo(f"id-{i}", "wss://lk", f"token-{i}") for i in range(3)]
    shapes = [compact(info)[0] for info in infos]
    assert shapes[0] is not None
    assert shapes[0] is shapes[1] is shapes[2]
    assert built == 1
    assert [real_expand(compact(info)[0], compact(info)[1]) for info in infos] == infos


def test_a_model_not_equal_to_itself_is_kept_after_its_shape_was_checked() -> None:
    """A start answer holding a NaN (``json.loads`` reads one) is not equal to itself where attrs
    compares field by field (recent attrs), so it cannot come back equal: kept as it is, although a
    model of its shape was checked before it. Where attrs compares the fields as one tuple (older
    attrs: the same NaN object counts as equal) it is equal to itself, and comes back equal."""
    assert compact(SessionInfo("id", "wss://lk", "token", None, 60.0))[0] is not None
    odd = SessionInfo("id", "wss://lk", "token", None, math.nan)
    shape, kept = compact(odd)
    if odd == odd:
        assert shape is not None
        assert expand(shape, kept) == odd
    else:
        assert (shape, kept) == (None, odd)


class _Elsewhere:
    """What ``_MadeElsewhere`` makes of the value ``"elsewhere"``."""


@attrs.frozen
class _MadeElsewhere:
    """A ``__new__`` of its own: built from the value ``"elsewhere"`` it is another class."""

    value: str

    def __new__(cls, value: str) -> Any:
        return _Elsewhere() if value == "elsewhere" else super().__new__(cls)


def test_a_class_with_a_new_of_its_own_is_checked_each_time() -> None:
    """Only attrs' own ``__init__`` and ``__eq__`` and no ``__new__`` of the class's own let a shape
    be checked once: a model this class makes no more (here made as its own ``__new__`` never
    would) is built again, found of another class, and kept as it is."""
    assert compact(_MadeElsewhere("a"))[0] is not None
    odd = object.__new__(_MadeElsewhere)
    object.__setattr__(odd, "value", "elsewhere")
    assert compact(odd) == (None, odd)


def test_a_model_holding_a_list_comes_back_equal() -> None:
    """A list field is kept as the list (the tuple then stays tracked: nothing gained, nothing lost),
    and the model comes back equal, holding that list."""
    model = _HoldsAList(["a", "b"])
    shape, kept = compact(model)
    back = expand(shape, kept)
    assert back == model
    assert back.values is model.values


async def test_a_sessions_info_reads_the_same_on_every_read(provider: Provider) -> None:
    """``session.info`` is built on each read from what the session keeps: equal every time, and
    what the emulator answered."""
    async with provider.session(keep_alive_interval=20) as session:
        first, second = session.info, session.info
        assert first == second
        assert first is not second
        if isinstance(first, SessionInfo):
            assert first.session_id == session.session_id
            assert first.livekit_url
        else:
            assert isinstance(first, KalturaSessionInfo)
            assert first.whep_url
            assert first.turn.url
