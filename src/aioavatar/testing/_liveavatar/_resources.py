"""The LiveAvatar emulator's account endpoints: avatars, voices, contexts, LLM configurations,
secrets, memories, languages, credits and embeds (the data is ``_account``'s).

Every one needs the API key but the public avatars and the languages, which need none. Auth runs
before validation (401 wins over 422); a path id that is not a UUID is 422, an unknown or deleted one
404 ``{"message": "<Thing> not found"}``. Paged lists take ``page`` and ``page_size`` (1..100);
LLM configurations and secrets are plain arrays. Deleting a memory answers 204 with no body; every
other answer is in the envelope. A secret's value is never answered back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from .._contract import Outcome
from ._account import LANGUAGES, Account, Collection
from ._routes import (
    Incoming,
    bad_request,
    body_object,
    check_api_key,
    invalid,
    ok,
    paged,
    query_int,
)
from ._state import SANDBOX_AVATAR_ID, LiveAvatarState
from ._validation import Errors, parse_uuid, present

__all__ = ["handle_resource"]

_DETAIL_ONLY: Final = frozenset({"secret_value", "session_episodes", "required_dynamic_variables"})
_NO_AUTH: Final = frozenset({"public_avatars", "languages"})
_SECRET_TYPES: Final = ("OPENAI_API_KEY", "ELEVENLABS_API_KEY", "GEMINI_API_KEY", "LLM_API_KEY")


def handle_resource(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    """Answer a request to one of :data:`RESOURCE_ENDPOINTS`."""
    if incoming.endpoint not in _NO_AUTH:
        denied = check_api_key(state, incoming)
        if denied is not None:
            return denied
    return _HANDLERS[incoming.endpoint](state, incoming)


def _now(state: LiveAvatarState) -> str:
    return state.iso(time.monotonic())


def _list(collection: Callable[[Account], Collection], **match: str) -> Handler:
    def handler(state: LiveAvatarState, incoming: Incoming) -> Outcome:
        errors = Errors()
        page = query_int(incoming.query, "page", 1, errors, le=None)
        size = query_int(incoming.query, "page_size", 20, errors, le=100)
        wanted = {key: incoming.query[key] for key in match if key in incoming.query}
        for key, value in wanted.items():
            errors.choice(value, tuple(match[key].split("|")), ("query", key))
        if errors:
            return invalid(errors)
        items = [
            item
            for item in collection(state.account).live()
            if all(item.get(key) == value for key, value in wanted.items())
        ]
        return ok(paged(incoming, items, page, size, _shown))

    return handler


def _array(collection: Callable[[Account], Collection]) -> Handler:
    def handler(state: LiveAvatarState, incoming: Incoming) -> Outcome:
        return ok([_shown(item) for item in collection(state.account).live()])

    return handler


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    """An item as answered: never a secret's value, never a detail-only field in a list."""
    return {k: v for k, v in item.items() if k not in _DETAIL_ONLY}


def _found(
    state: LiveAvatarState, incoming: Incoming, collection: Collection, field: str
) -> tuple[dict[str, Any] | None, Outcome | None]:
    errors = Errors()
    assert incoming.path_id is not None
    item_id = errors.uuid(incoming.path_id, ("path", field))
    if errors or item_id is None:
        return None, invalid(errors)
    item = collection.find(item_id)
    if item is None:
        payload = {"message": f"{collection.noun} not found"}
        return None, Outcome(status=404, payload=payload)
    return item, None


def _get(pick: Callable[[Account], Collection], field: str, *, detail: bool = False) -> Handler:
    def handler(state: LiveAvatarState, incoming: Incoming) -> Outcome:
        item, refused = _found(state, incoming, pick(state.account), field)
        if refused is not None:
            return refused
        assert item is not None
        return ok(dict(item) if detail else _shown(item))

    return handler


#: Per kind of resource, the fields an update may set and how each is checked.
Check = Callable[[Errors, Any, tuple[str, ...]], Any]


def _text(errors: Errors, value: Any, loc: tuple[str, ...]) -> Any:
    return errors.string(value, loc, max_length=100_000)


def _uuid(errors: Errors, value: Any, loc: tuple[str, ...]) -> Any:
    return errors.uuid(value, loc)


def _links(errors: Errors, value: Any, loc: tuple[str, ...]) -> Any:
    if not isinstance(value, list):
        errors.add("list_type", loc, "Input should be a valid list", value)
        return None
    for index, link in enumerate(value):
        if errors.model(link, (*loc, index), "ContextLink") is not None:
            errors.string(link.get("url"), (*loc, index, "url"))
            if present(link, "faq"):
                errors.string(link["faq"], (*loc, index, "faq"))
    return value


def _body(
    incoming: Incoming, fields: dict[str, Check], required: tuple[str, ...]
) -> tuple[dict[str, Any], Errors]:
    errors = Errors()
    body = body_object(incoming, errors, required=True)
    taken: dict[str, Any] = {}
    if errors:
        return taken, errors
    for name in required:
        if not present(body, name):
            errors.missing(("body", name), body)
    for name, check in fields.items():
        if present(body, name):
            check(errors, body[name], ("body", name))
            taken[name] = body[name]
    return taken, errors


def _create(
    pick: Callable[[Account], Collection],
    fields: dict[str, Check],
    required: tuple[str, ...],
    **extra: Any,
) -> Handler:
    def handler(state: LiveAvatarState, incoming: Incoming) -> Outcome:
        taken, errors = _body(incoming, fields, required)
        if errors:
            return invalid(errors)
        now = _now(state)
        item = pick(state.account).add({**extra, **taken, "created_at": now, "updated_at": now})
        return ok(_shown(item))

    return handler


def _update(pick: Callable[[Account], Collection], field: str, fields: dict[str, Check]) -> Handler:
    def handler(state: LiveAvatarState, incoming: Incoming) -> Outcome:
        item, refused = _found(state, incoming, pick(state.account), field)
        if refused is not None:
            return refused
        assert item is not None
        taken, errors = _body(incoming, fields, ())
        if errors:
            return invalid(errors)
        if "default_voice_id" in taken:
            voice = state.account.voices.find(str(uuid.UUID(taken.pop("default_voice_id"))))
            if voice is None:
                return Outcome(status=404, payload={"message": "Voice not found"})
            item["default_voice"] = {"id": voice["id"], "name": voice["name"]}
        item.update(taken, updated_at=_now(state))
        return ok(_shown(item))

    return handler


def _delete(
    pick: Callable[[Account], Collection], field: str, *, no_content: bool = False
) -> Handler:
    def handler(state: LiveAvatarState, incoming: Incoming) -> Outcome:
        collection = pick(state.account)
        item, refused = _found(state, incoming, collection, field)
        if refused is not None:
            return refused
        assert item is not None
        collection.deleted.add(item["id"])
        if no_content:
            return Outcome(status=204, payload=None)
        return ok(None)

    return handler


def _preview(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    _, refused = _found(state, incoming, state.account.voices, "voice_id")
    return refused or ok({"audio_base64": Account.preview()})


def _third_party(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    fields: dict[str, Check] = {"provider_voice_id": _text, "secret_id": _uuid, "name": _text}
    taken, errors = _body(incoming, fields, ("provider_voice_id", "secret_id"))
    if errors:
        return invalid(errors)
    if state.account.secrets.find(str(uuid.UUID(taken["secret_id"]))) is None:
        return Outcome(status=404, payload={"message": "Secret not found"})
    name = taken.get("name") or f"Voice {taken['provider_voice_id']}"
    voice = state.account.add_voice(name, voice_type="private", now=_now(state))
    return ok({"voice_id": voice["id"]})


def _secret_create(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    fields: dict[str, Check] = {
        "secret_name": _text,
        "secret_value": _text,
        "secret_type": lambda e, v, loc: e.choice(v, _SECRET_TYPES, loc),
    }
    taken, errors = _body(incoming, fields, ("secret_name", "secret_value", "secret_type"))
    if errors:
        # FastAPI echoes the input of a refused field; never a secret's value here.
        for item in errors.items:
            if item["loc"][-1] == "secret_value" or isinstance(item["input"], dict):
                item["input"] = "***"
        return invalid(errors)
    now = _now(state)
    item = state.account.secrets.add({**taken, "created_at": now})
    return ok(_shown(item))


def _memory_create(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    fields: dict[str, Check] = {
        "memory_type": lambda e, v, loc: e.choice(v, ("session",), loc),
        "session_id": _uuid,
    }
    taken, errors = _body(incoming, fields, ("session_id",))
    if errors:
        return invalid(errors)
    session_id = str(uuid.UUID(taken["session_id"]))
    session = state.sessions.get(session_id)
    if session is None:
        return Outcome(status=404, payload={"message": "Session not found"})
    now = _now(state)
    memory = state.account.memories.add(
        {
            "memory_type": "session",
            "session_id": session_id,
            # What the avatar remembers: nothing yet (the list shows its preview).
            "memory_content": "",
            "memory_content_preview": "",
            "session_episodes": [],
            "created_at": now,
            "updated_at": now,
        }
    )
    session.memory_id = memory["id"]
    return ok(_shown(memory), session_id=session_id)


def _credits(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    left = max(state.credits_left(), 0)
    return ok({"credits_left": f"{left:.4f}"})


def _embed(state: LiveAvatarState, incoming: Incoming) -> Outcome:
    fields: dict[str, Check] = {
        "avatar_id": _uuid,
        "context_id": _uuid,
        "voice_id": _uuid,
        "type": lambda e, v, loc: e.choice(v, ("DEFAULT", "WIDGET"), loc),
        "max_session_duration": lambda e, v, loc: e.positive_int(v, loc),
        "default_language": _text,
        "is_sandbox": lambda e, v, loc: e.boolean(v, loc),
        "orientation": lambda e, v, loc: e.choice(v, ("horizontal", "vertical"), loc),
    }
    taken, errors = _body(incoming, fields, ("avatar_id", "context_id"))
    if errors:
        return invalid(errors)
    account = state.account
    if account.avatar(str(uuid.UUID(taken["avatar_id"]))) is None:
        return Outcome(status=404, payload={"message": "Avatar not found"})
    if account.contexts.find(str(uuid.UUID(taken["context_id"]))) is None:
        return Outcome(status=404, payload={"message": "Context not found"})
    if taken.get("is_sandbox") and parse_uuid(taken["avatar_id"]) != SANDBOX_AVATAR_ID:
        return bad_request("Sandbox embeds can only use the sandbox avatar")
    embed = account.embeds.add({**taken})
    data: dict[str, Any] = {
        "embed_id": embed["id"],
        "url": f"https://embed.emulator.invalid/{embed['id']}",
        "orientation": taken.get("orientation", "horizontal"),
    }
    if taken.get("type") == "WIDGET":
        data["script"] = f'<script src="https://embed.emulator.invalid/{embed["id"]}.js"></script>'
    return ok(data)


Handler = Callable[[LiveAvatarState, Incoming], Outcome]


def _avatars(account: Account) -> Collection:
    return account.avatars


def _avatar_of(state: LiveAvatarState, incoming: Incoming) -> Collection:
    assert incoming.path_id is not None
    found = state.account.avatar(parse_uuid(incoming.path_id) or "")
    return found[0] if found is not None else state.account.avatars


def _any_avatar(handler: Callable[[Callable[[Account], Collection]], Handler]) -> Handler:
    """A handler of ``/v1/avatars/{id}``, for the account's avatars and the public ones alike."""

    def dispatch(state: LiveAvatarState, incoming: Incoming) -> Outcome:
        collection = _avatar_of(state, incoming)
        return handler(lambda _: collection)(state, incoming)

    return dispatch


_CONTEXT_FIELDS: Final[dict[str, Check]] = {
    "name": _text,
    "prompt": _text,
    "opening_text": _text,
    "links": _links,
}
_LLM_FIELDS: Final[dict[str, Check]] = {
    "display_name": _text,
    "model_name": _text,
    "secret_id": _uuid,
    "base_url": _text,
}

_HANDLERS: Final[dict[str, Handler]] = {
    "avatars": _list(_avatars),
    "public_avatars": _list(lambda a: a.public_avatars),
    "avatar_get": _any_avatar(lambda pick: _get(pick, "avatar_id")),
    "avatar_update": _any_avatar(
        lambda pick: _update(pick, "avatar_id", {"name": _text, "default_voice_id": _uuid})
    ),
    "avatar_delete": _any_avatar(lambda pick: _delete(pick, "avatar_id")),
    "voices": _list(lambda a: a.voices, voice_type="public|private"),
    "voice_third_party": _third_party,
    "voice_get": _get(lambda a: a.voices, "voice_id"),
    "voice_update": _update(lambda a: a.voices, "voice_id", {"name": _text}),
    "voice_delete": _delete(lambda a: a.voices, "voice_id"),
    "voice_preview": _preview,
    "contexts": _list(lambda a: a.contexts),
    "context_create": _create(
        lambda a: a.contexts,
        _CONTEXT_FIELDS,
        ("name", "prompt", "opening_text"),
        required_dynamic_variables=[],
    ),
    "context_get": _get(lambda a: a.contexts, "context_id", detail=True),
    "context_update": _update(lambda a: a.contexts, "context_id", _CONTEXT_FIELDS),
    "context_delete": _delete(lambda a: a.contexts, "context_id"),
    "llm_configurations": _array(lambda a: a.llm_configurations),
    "llm_configuration_create": _create(
        lambda a: a.llm_configurations, _LLM_FIELDS, ("display_name", "model_name", "secret_id")
    ),
    "llm_configuration_get": _get(lambda a: a.llm_configurations, "llm_configuration_id"),
    "llm_configuration_update": _update(
        lambda a: a.llm_configurations, "llm_configuration_id", _LLM_FIELDS
    ),
    "llm_configuration_delete": _delete(lambda a: a.llm_configurations, "llm_configuration_id"),
    "secrets": _array(lambda a: a.secrets),
    "secret_create": _secret_create,
    "secret_delete": _delete(lambda a: a.secrets, "secret_id"),
    "memories": _list(lambda a: a.memories),
    "memory_create": _memory_create,
    "memory_get": _get(lambda a: a.memories, "memory_id", detail=True),
    "memory_delete": _delete(lambda a: a.memories, "memory_id", no_content=True),
    "languages": lambda state, incoming: ok(list(LANGUAGES)),
    "credits": _credits,
    "embedding_create": _embed,
}
