"""``aioavatar._flat_hook``: the first pass over a flat answer reads every answer as cattrs' hook does,
and runs a model's own hook once."""

from __future__ import annotations

import logging
import math
from typing import Any, Generic, TypeVar

import attrs
import pytest
from cattrs.errors import ClassValidationError
from cattrs.gen import override
from hypothesis import given, settings
from hypothesis import strategies as st

from aioavatar import Secret, SessionInfo, SessionToken
from aioavatar._converter import DecodeFailure, converter, register_response, structure_response
from aioavatar.kaltura import KalturaSessionInfo, KalturaSessionToken, KalturaTurnServer
from aioavatar.liveavatar import Avatar

SESSION_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def _whole(value: Any, _: Any) -> int:
    """An own hook that refuses some values: a whole number of at least zero, read from text too."""
    number = int(value) if isinstance(value, str) and value.isdigit() else value
    if type(number) is not int or number < 0:
        raise ValueError(f"expected a whole number, got {value!r:.20}")
    return number


@attrs.frozen
class Every:
    """A flat model with a field of every kind the first pass reads: required and with a default,
    optional, positional and keyword-only, renamed, with an own hook that may refuse."""

    text: str
    count: int
    ratio: float
    flag: bool
    secret: Secret
    maybe_text: str | None = None
    maybe_count: int | None = 7
    maybe_ratio: float | None = None
    maybe_flag: bool | None = False
    maybe_secret: Secret | None = None
    hooked: int = attrs.field(default=0, kw_only=True)
    renamed: str = attrs.field(default="", kw_only=True)
    _private: str = attrs.field(default="p", kw_only=True)  # its argument: ``private``
    blank: str | None = None  # read from the key "" (a rename to the empty string)


@attrs.frozen
class KeywordFirst:
    """A keyword-only field before the positional ones (attrs puts it after them in ``__init__``)."""

    tag: str = attrs.field(kw_only=True)
    name: str
    size: int = 0


for _model in (Every, KeywordFirst):
    attrs.resolve_types(_model)
register_response(
    Every,
    {
        "hooked": override(struct_hook=_whole),
        "renamed": override(rename="renamedKey"),
        "blank": override(rename=""),
    },
)
register_response(KeywordFirst, {})


def _public_models_with_a_first_pass() -> list[type]:
    import aioavatar

    found = [getattr(aioavatar, name) for name in aioavatar.__all__]
    return [
        cls
        for cls in found
        if isinstance(cls, type)
        and attrs.has(cls)
        and not getattr(cls, "__parameters__", None)  # a generic page: read as Page[Model]
        and converter.get_structure_hook(cls).__name__ == "first_pass"
    ]


#: Every public model read by a first pass (the session's answers among them), and models with a
#: field of every kind it reads.
FLAT = (*_public_models_with_a_first_pass(), Every, KeywordFirst)


def test_the_sessions_answers_are_read_by_a_first_pass() -> None:
    """The answers every session reads: its token and where to join it, for both providers."""
    assert {SessionInfo, SessionToken, KalturaSessionToken, KalturaTurnServer} <= set(FLAT)


def _wire_keys(cls: type) -> list[str]:
    """The keys of ``cls``'s answer, as the first pass reads them (renames included)."""
    names = first_pass(cls).__globals__
    return [names[f"k{i}"] for i in range(len(attrs.fields(cls)))]


def first_pass(cls: type) -> Any:
    hook = converter.get_structure_hook(cls)
    assert hook.__name__ == "first_pass", f"{cls.__name__} is read by cattrs' hook alone"
    return hook


def _outcome(hook: Any, answer: Any, cls: type) -> Any:
    """What reading ``answer`` gives: the model, with each value's type, or the error as cattrs'
    callers see it (its type, text, and the errors it gathers)."""
    try:
        model = hook(answer, cls)
    except ClassValidationError as exc:
        return ("error", type(exc), str(exc), [(type(e), str(e)) for e in exc.exceptions])
    except Exception as exc:  # noqa: BLE001 - compared, whatever it is
        return ("error", type(exc), str(exc))
    return ("model", _fields(model))


def _fields(model: Any) -> list[tuple[type, Any]]:
    values = []
    for value in attrs.astuple(model, recurse=False):
        if isinstance(value, Secret):
            value = ("secret", value.get_secret_value())
        elif isinstance(value, float) and math.isnan(value):
            value = "nan"
        values.append((type(value), value))
    return values


_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from([SESSION_ID, "t" * 40, "wss://x.example/ws?token=abc", "", "12", "1e3"]),
)
#: A value of each plain type, as a right answer sends it.
_RIGHT: dict[Any, st.SearchStrategy[Any]] = {
    str: _TEXT,
    Secret: _TEXT,
    int: st.integers(min_value=-(2**70), max_value=2**70),
    float: st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=True)),
    bool: st.booleans(),
}
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=2),
    st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2),
)


def _right(kind: Any) -> st.SearchStrategy[Any]:
    """A value of type ``kind``: a plain one, or one of them made optional (anything at all for a
    field read by a hook of its own, whose type may be of neither)."""
    if kind in _RIGHT:
        return _RIGHT[kind]
    plain = [k for k in getattr(kind, "__args__", ()) if k is not type(None)]
    if not plain or any(k not in _RIGHT for k in plain):
        return _VALUES
    return st.one_of(st.none(), *(_RIGHT[k] for k in plain))


class _Text(str):
    """Text of a type JSON never gives: cattrs' strict hook takes it, the first pass hands it on."""


class _Object(dict[str, Any]):
    """An object of a type JSON never gives (cattrs takes any mapping)."""


@st.composite
def answers(draw: st.DrawFn, cls: type) -> Any:
    """An answer for ``cls``: mostly an object whose values are of their field's type but for up to
    two (so that many are taken by the first pass), with a key left out and others added, sometimes
    anything at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_VALUES)
    fields = attrs.fields(cls)
    indices = st.integers(0, len(fields) - 1)
    wrong, left_out = draw(st.sets(indices, max_size=2)), draw(st.sets(indices, max_size=1))
    answer = {}
    for index, (field, key) in enumerate(zip(fields, _wire_keys(cls), strict=True)):
        if index not in left_out:
            answer[key] = draw(_VALUES if index in wrong else _right(field.type))
    answer.update(draw(st.dictionaries(st.text(max_size=4), _SCALARS, max_size=2)))
    if answer and draw(st.integers(0, 19)) == 0:  # a value of a subclass of its type
        key = draw(st.sampled_from(sorted(answer)))
        if type(answer[key]) is str:
            answer[key] = _Text(answer[key])
    return _Object(answer) if draw(st.integers(0, 19)) == 0 else answer


@pytest.mark.parametrize("cls", FLAT, ids=lambda c: c.__name__)
@settings(max_examples=300)
@given(data=st.data())
def test_the_first_pass_reads_every_answer_as_cattrs_hook_does(
    cls: type, data: st.DataObject
) -> None:
    """Over generated answers (right and wrong types, missing and extra keys, not objects at all),
    the first pass gives the same model with the same types of values, or the same error, as cattrs'
    hook it hands the rest to."""
    answer = data.draw(answers(cls))
    hook = first_pass(cls)
    fallback = hook.__globals__["fallback"]
    assert _outcome(hook, answer, cls) == _outcome(fallback, answer, cls)


#: A well-formed answer of each of the session's models and of the models above.
RIGHT_ANSWERS: dict[type, dict[str, Any]] = {
    SessionInfo: {
        "session_id": SESSION_ID,
        "livekit_url": "wss://lk",
        "livekit_client_token": "c" * 20,
        "max_session_duration": 1200,
        "ws_url": "wss://ws?token=t",
    },
    SessionToken: {"session_id": SESSION_ID, "session_token": "t" * 40},
    KalturaSessionToken: {"sessionId": SESSION_ID, "token": "t" * 40},
    KalturaTurnServer: {"url": "turn:x", "username": "u", "credential": "p" * 12},
    Every: {"text": "a", "count": 1, "ratio": 2, "flag": True, "secret": "s", "hooked": "3"},
    KeywordFirst: {"tag": "t", "name": "n"},
}


@pytest.mark.parametrize("key", ["text", "count", "ratio", "flag", "secret", "maybe_ratio"])
@pytest.mark.parametrize("value", [True, 0, 1.5, "x", None, [], {}], ids=repr)
def test_each_plain_value_of_another_type_is_read_as_cattrs_reads_it(key: str, value: Any) -> None:
    """Every plain type against a value of each other kind, one field at a time in an otherwise
    right answer: the same model or the same error as cattrs' hook (not left to the draw of the
    generated answers, where ``True`` for a number is rare)."""
    hook = first_pass(Every)
    answer = {**RIGHT_ANSWERS[Every], key: value}
    assert _outcome(hook, answer, Every) == _outcome(hook.__globals__["fallback"], answer, Every)


@pytest.mark.parametrize("cls", RIGHT_ANSWERS, ids=lambda c: c.__name__)
def test_a_right_answer_is_taken_by_the_first_pass_itself(cls: type) -> None:
    """A well-formed answer never reaches cattrs' hook (else the pass would cost, not save)."""
    valid = RIGHT_ANSWERS[cls]
    hook = first_pass(cls)
    names = hook.__globals__
    handed: list[Any] = []
    real = names["fallback"]

    def counted(value: Any, c: Any) -> Any:
        handed.append(value)
        return real(value, c)

    names["fallback"] = counted
    try:
        model = hook(dict(valid), cls)
    finally:
        names["fallback"] = real
    assert handed == []
    assert structure_response(dict(valid), cls) == model


def test_a_models_own_hook_runs_once_per_answer(caplog: pytest.LogCaptureFixture) -> None:
    """``max_session_duration`` is read by a hook that logs a value it cannot use: once for an answer
    the first pass takes, once for one it hands to cattrs (its hook runs after every check)."""
    caplog.set_level(logging.WARNING, logger="aioavatar")
    answer = {
        "session_id": SESSION_ID,
        "livekit_url": "wss://lk",
        "livekit_client_token": "c" * 20,
        "max_session_duration": "soon",
    }
    info = structure_response(answer, SessionInfo)
    assert info.max_session_duration is None
    assert len([r for r in caplog.records if "max_session_duration" in r.getMessage()]) == 1
    caplog.clear()
    # An answer without it: the hook is not run on the key's absence (nothing to log).
    without = {key: value for key, value in answer.items() if key != "max_session_duration"}
    assert structure_response(without, SessionInfo).max_session_duration is None
    assert caplog.records == []
    caplog.clear()
    with pytest.raises(DecodeFailure, match="'livekit_url': expected a string"):
        structure_response({**answer, "livekit_url": 5}, SessionInfo)
    assert len([r for r in caplog.records if "max_session_duration" in r.getMessage()]) == 1


def test_a_validators_error_names_its_field_as_cattrs_does() -> None:
    """A value of the right type that breaks the model's rule (a session id that is no UUID) fails
    with the field's name, from the first pass as from cattrs' hook."""
    with pytest.raises(DecodeFailure, match=r"field 'session_id': .*UUID"):
        structure_response({"session_id": "nope", "session_token": "t" * 40}, SessionToken)


T = TypeVar("T")


@attrs.frozen
class _MadeByFactory:
    tags: str = attrs.field(factory=str)


@attrs.frozen
class _NotInInit:
    name: str
    seen: int = attrs.field(init=False, default=0)


@attrs.frozen
class _Omitted:
    name: str
    skipped: str = ""


@attrs.define(init=False)
class _OwnInit:
    a: str
    b: int

    def __init__(self, b: int, a: str) -> None:
        self.__attrs_init__(a, b)


@attrs.frozen
class _Strict:
    name: str


@attrs.frozen
class _Generic(Generic[T]):
    name: str
    value: T


for _other in (_MadeByFactory, _NotInInit, _Omitted, _OwnInit, _Strict, _Generic):
    attrs.resolve_types(_other)
register_response(_Omitted, {"skipped": override(omit=True)})
register_response(_Strict, {"_cattrs_forbid_extra_keys": True})


@pytest.mark.parametrize(
    ("cls", "answer"),
    [
        (KalturaSessionInfo, None),  # a nested model
        (Avatar, None),  # enums, a nested model
        (_MadeByFactory, {"tags": "a"}),
        (_NotInInit, {"name": "a", "seen": 3}),
        (_Omitted, {"name": "a", "skipped": "b"}),
        (_OwnInit, {"a": "x", "b": 1}),
        (_Strict, {"name": "a", "extra": 1}),
        (_Generic[int], {"name": "a", "value": 1}),
    ],
    ids=lambda c: getattr(c, "__name__", "") or str(c),
)
def test_a_model_that_is_not_flat_is_read_by_cattrs_alone(cls: Any, answer: Any) -> None:
    """A nested model, a list, an enum, a default made by a factory, a field left out of ``__init__``
    or of the reading, an ``__init__`` of the model's own (whose arguments need not be in the fields'
    order), a cattrs option (refusing unknown keys), a field of a generic model's parameter: the
    first pass does not try, and cattrs reads each as before."""
    assert converter.get_structure_hook(cls).__name__ != "first_pass"
    if answer is None:
        return
    outcome = _outcome(converter.get_structure_hook(cls), answer, cls)
    expected = {
        _MadeByFactory: ("model", [(str, "a")]),
        _NotInInit: ("model", [(str, "a"), (int, 0)]),
        _Omitted: ("model", [(str, "a"), (str, "")]),
        _OwnInit: ("model", [(str, "x"), (int, 1)]),
    }.get(cls)
    if expected is not None:
        assert outcome == expected
    elif cls is _Strict:
        assert outcome[0] == "error"
    else:  # the generic, read with its parameter
        assert outcome == ("model", [(str, "a"), (int, 1)])


def test_a_model_registered_with_a_new_key_is_read_by_it() -> None:
    """The first pass reads the keys of the model's registration (a rename), and follows a new one."""

    @attrs.frozen
    class Answer:
        session_id: str
        size: int = 0

    attrs.resolve_types(Answer)
    assert structure_response({"session_id": "a", "size": 3}, Answer) == Answer("a", 3)
    register_response(Answer, {"session_id": override(rename="sessionId")})
    assert first_pass(Answer)
    assert structure_response({"sessionId": "b"}, Answer) == Answer("b", 0)
    with pytest.raises(DecodeFailure, match="'session_id' is missing"):
        structure_response({"session_id": "c"}, Answer)
    with pytest.raises(DecodeFailure, match="'size': expected an integer"):
        structure_response({"sessionId": "c", "size": True}, Answer)
