"""The account's resources as small namespaces of a :class:`~aioavatar.LiveAvatarClient`:
``client.avatars``, ``client.voices``, ``client.contexts`` (here) and ``client.llm_configurations``,
``client.secrets``, ``client.memories``, ``client.embeddings`` (``_agent_resources``).

Each method checks its arguments before any I/O (:class:`~aioavatar.ConfigurationError` naming the
field: ids are UUIDs as the session fields are, ``page_size`` 1..100, texts non-empty), then sends
one endpoint of ``_endpoints`` through the client's one call path, so retries, time limits and typed
errors are the session calls'. Every list is a :class:`~aioavatar.Pager`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from .._options import CallOptions
from .._pager import PageData, Pager, page_after
from .._provider import Endpoint, Namespace
from .._validation import check_int, check_options, check_text, check_url, check_uuid, shown
from ..exceptions import ConfigurationError
from ._config_dicts import ContextLinkDict
from ._endpoints import (
    AVATAR_DELETE,
    AVATAR_GET,
    AVATAR_UPDATE,
    AVATARS,
    CONTEXT_CREATE,
    CONTEXT_DELETE,
    CONTEXT_GET,
    CONTEXT_UPDATE,
    CONTEXTS,
    PUBLIC_AVATARS,
    VOICE_DELETE,
    VOICE_GET,
    VOICE_PREVIEW,
    VOICE_THIRD_PARTY,
    VOICE_UPDATE,
    VOICES,
)
from ._enums import VoiceType, VoiceTypeName
from ._resource_models import (
    Avatar,
    Context,
    ContextLink,
    ResultsPage,
    ThirdPartyVoice,
    Voice,
    VoicePreview,
)

if TYPE_CHECKING:
    from ._client import LiveAvatarClient  # noqa: F401 - named in the base class below, as a string

__all__ = ["Avatars", "Contexts", "Resource", "Voices", "check_page_size"]

T = TypeVar("T")

#: The page size of a list when none is given (the API's own default).
DEFAULT_PAGE_SIZE = 20


def check_page_size(page_size: object) -> int:
    """``page_size`` when it is an integer from 1 to 100.

    Raises:
        ConfigurationError: naming ``page_size``.
    """
    return check_int(page_size, "page_size", low=1, high=100)


class Resource(Namespace["LiveAvatarClient"]):
    """What every namespace of the account's resources shares: sending one endpoint with the API key."""

    __slots__ = ()

    async def _send(
        self,
        endpoint: Endpoint,
        options: CallOptions,
        *,
        id: str | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        client = self._client
        call = client._prepare(
            endpoint,
            headers=client._account_headers(),
            path_args={"id": id} if id is not None else None,
            json=json,
            params=params,
            secrets=secrets,  # masked out of the answer too, as the call's credentials
        )
        return await client.send(call, **options)

    def _pages(
        self,
        endpoint: Endpoint,
        page_size: object,
        options: CallOptions,
        params: Mapping[str, str] | None = None,
    ) -> Pager[Any]:
        """A pager over a paged list (``page`` from 1, ``page_size``), checked now, sent when read."""
        size = check_page_size(page_size)
        check_options(options, CallOptions)
        fixed = dict(params or {})

        async def fetch(page: int) -> PageData[Any]:
            query = {**fixed, "page": str(page), "page_size": str(size)}
            read: ResultsPage[Any] = await self._send(endpoint, options, params=query)
            following = page_after(page, len(read.results), read.count, read.next)
            return PageData(read.results, read.count, following, read.next, read.previous)

        return Pager(fetch, 1)

    def _whole_list(self, endpoint: Endpoint, options: CallOptions) -> Pager[Any]:
        """A pager over a list the API answers whole, as a plain array: one page."""
        check_options(options, CallOptions)

        async def fetch(_: int) -> PageData[Any]:
            items: list[Any] = await self._send(endpoint, options)
            return PageData(items, len(items), None)

        return Pager(fetch, 1)


def fields_of(given: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """The fields of an update that were given (``None``: left as they are).

    Raises:
        ConfigurationError: none was given (``field`` is ``what``).
    """
    body = {name: value for name, value in given.items() if value is not None}
    if not body:
        names = ", ".join(given)
        raise ConfigurationError(f"give at least one of {names} to change", field=what)
    return body


def text_or_none(value: object, field: str, *, max_length: int = 10_000) -> str | None:
    """``value`` checked as text, or ``None`` when not given."""
    return None if value is None else check_text(value, field, max_length=max_length)


def uuid_or_none(value: object, field: str) -> str | None:
    """``value`` checked as a UUID, or ``None`` when not given."""
    if value is not None:
        check_uuid(value, field)
    return value  # type: ignore[return-value]


class Avatars(Resource):
    """``client.avatars``: the account's avatars and LiveAvatar's public ones."""

    __slots__ = ()

    def list(
        self,
        *,
        public: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Unpack[CallOptions],
    ) -> Pager[Avatar]:
        """The account's avatars (``GET /v1/avatars``), or LiveAvatar's public ones (``public=True``,
        ``GET /v1/avatars/public``; the sandbox avatar is among them).

        Raises:
            ConfigurationError: ``public`` not a bool, ``page_size`` outside 1..100, a bad option.
        """
        if not isinstance(public, bool):
            raise ConfigurationError("must be True or False", field="public")
        return self._pages(PUBLIC_AVATARS if public else AVATARS, page_size, options)

    async def get(self, avatar_id: str, **options: Unpack[CallOptions]) -> Avatar:
        """One avatar (``GET /v1/avatars/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such avatar.
        """
        check_uuid(avatar_id, "avatar_id")
        avatar: Avatar = await self._send(AVATAR_GET, options, id=avatar_id)
        return avatar

    async def update(
        self,
        avatar_id: str,
        *,
        name: str | None = None,
        default_voice_id: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Avatar:
        """Rename an avatar or change its default voice (``PATCH /v1/avatars/{id}``).

        Raises:
            ConfigurationError: a malformed id, an empty name, nothing to change.
        """
        check_uuid(avatar_id, "avatar_id")
        text_or_none(name, "name", max_length=200)
        uuid_or_none(default_voice_id, "default_voice_id")
        body = fields_of({"name": name, "default_voice_id": default_voice_id}, what="name")
        avatar: Avatar = await self._send(AVATAR_UPDATE, options, id=avatar_id, json=body)
        return avatar

    async def delete(self, avatar_id: str, **options: Unpack[CallOptions]) -> None:
        """Delete an avatar (``DELETE /v1/avatars/{id}``; the server keeps it, marked deleted).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such avatar (or already deleted).
        """
        check_uuid(avatar_id, "avatar_id")
        await self._send(AVATAR_DELETE, options, id=avatar_id)


class Voices(Resource):
    """``client.voices``: the voices a session's persona may speak with."""

    __slots__ = ()

    def list(
        self,
        *,
        voice_type: VoiceType | VoiceTypeName | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Unpack[CallOptions],
    ) -> Pager[Voice]:
        """The voices (``GET /v1/voices``): ``voice_type="public"`` LiveAvatar's, ``"private"`` the
        account's, ``None`` whatever the server lists by default.

        Raises:
            ConfigurationError: an unknown ``voice_type``, ``page_size`` outside 1..100.
        """
        params = {}
        if voice_type is not None:
            try:
                plain = str.__str__(voice_type) if isinstance(voice_type, str) else voice_type
                params["voice_type"] = VoiceType(plain).value
            except ValueError:
                raise ConfigurationError(
                    f"must be 'public' or 'private', got {shown(voice_type)}", field="voice_type"
                ) from None
        return self._pages(VOICES, page_size, options, params)

    async def get(self, voice_id: str, **options: Unpack[CallOptions]) -> Voice:
        """One voice (``GET /v1/voices/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such voice.
        """
        check_uuid(voice_id, "voice_id")
        voice: Voice = await self._send(VOICE_GET, options, id=voice_id)
        return voice

    async def update(
        self, voice_id: str, *, name: str | None = None, **options: Unpack[CallOptions]
    ) -> Voice:
        """Rename a voice (``PATCH /v1/voices/{id}``).

        Raises:
            ConfigurationError: a malformed id, an empty or missing name.
        """
        check_uuid(voice_id, "voice_id")
        text_or_none(name, "name", max_length=200)
        body = fields_of({"name": name}, what="name")
        voice: Voice = await self._send(VOICE_UPDATE, options, id=voice_id, json=body)
        return voice

    async def delete(self, voice_id: str, **options: Unpack[CallOptions]) -> None:
        """Delete a voice (``DELETE /v1/voices/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such voice.
        """
        check_uuid(voice_id, "voice_id")
        await self._send(VOICE_DELETE, options, id=voice_id)

    async def preview(self, voice_id: str, **options: Unpack[CallOptions]) -> bytes:
        """A voice's audio sample (``GET /v1/voices/{id}/preview``), decoded from base64.

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such voice.
            ResponseDecodeError: the sample is not base64.
        """
        check_uuid(voice_id, "voice_id")
        preview: VoicePreview = await self._send(VOICE_PREVIEW, options, id=voice_id)
        return preview.audio

    async def add_third_party(
        self,
        provider_voice_id: str,
        *,
        secret_id: str,
        name: str | None = None,
        **options: Unpack[CallOptions],
    ) -> str:
        """Make a voice of another provider's (``POST /v1/voices/third_party``), reached with the
        stored secret ``secret_id``; returns the new voice's id. Not retried once sent.

        Raises:
            ConfigurationError: an empty ``provider_voice_id`` or ``name``, a malformed ``secret_id``.
        """
        check_text(provider_voice_id, "provider_voice_id", max_length=500)
        check_uuid(secret_id, "secret_id")
        text_or_none(name, "name", max_length=200)
        body = {"provider_voice_id": provider_voice_id, "secret_id": secret_id}
        if name is not None:
            body["name"] = name
        made: ThirdPartyVoice = await self._send(VOICE_THIRD_PARTY, options, json=body)
        return made.voice_id


def check_links(links: object) -> list[dict[str, Any]]:
    """A context's ``links`` as JSON: each a :class:`ContextLink` or a dict ``{url, faq?}``.

    Raises:
        ConfigurationError: naming ``links[i].url`` or ``links[i].faq``, or ``links``.
    """
    if isinstance(links, str | bytes) or not isinstance(links, Sequence):
        raise ConfigurationError("must be a list of links", field="links")
    out: list[dict[str, Any]] = []
    for index, link in enumerate(links):
        url: object
        faq: object
        if isinstance(link, ContextLink):
            url, faq = link.url, link.faq
        elif isinstance(link, Mapping) and set(link) <= {"url", "faq"}:
            url, faq = link.get("url"), link.get("faq")
        else:
            raise ConfigurationError(
                "must be a ContextLink or a dict with 'url' and 'faq'", field=f"links[{index}]"
            )
        check_url(url, f"links[{index}].url")
        if faq is not None:
            check_text(faq, f"links[{index}].faq", max_length=2_000)
        out.append({"url": url} if faq is None else {"url": url, "faq": faq})
    return out


#: What the API requires in a context's PATCH body, whichever fields change.
_CONTEXT_REQUIRED = ("name", "prompt", "opening_text")


class Contexts(Resource):
    """``client.contexts``: a FULL session's persona: its prompt, opening line and links."""

    __slots__ = ()

    def list(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, **options: Unpack[CallOptions]
    ) -> Pager[Context]:
        """The account's contexts (``GET /v1/contexts``).

        Raises:
            ConfigurationError: ``page_size`` outside 1..100, a bad option.
        """
        return self._pages(CONTEXTS, page_size, options)

    async def create(
        self,
        *,
        name: str,
        prompt: str,
        opening_text: str,
        links: Sequence[ContextLink | ContextLinkDict] | None = None,
        **options: Unpack[CallOptions],
    ) -> Context:
        """Create a context (``POST /v1/contexts``). Not retried once sent: a resent create would make
        a second context.

        Raises:
            ConfigurationError: an empty ``name``, ``prompt`` or ``opening_text``, a bad link.
        """
        body: dict[str, Any] = {
            "name": check_text(name, "name", max_length=200),
            "prompt": check_text(prompt, "prompt", max_length=100_000),
            "opening_text": check_text(opening_text, "opening_text"),
        }
        if links is not None:
            body["links"] = check_links(links)
        context: Context = await self._send(CONTEXT_CREATE, options, json=body)
        return context

    async def get(self, context_id: str, **options: Unpack[CallOptions]) -> Context:
        """One context, with its ``required_dynamic_variables`` (``GET /v1/contexts/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such context.
        """
        check_uuid(context_id, "context_id")
        context: Context = await self._send(CONTEXT_GET, options, id=context_id)
        return context

    async def update(
        self,
        context_id: str,
        *,
        name: str | None = None,
        prompt: str | None = None,
        opening_text: str | None = None,
        links: Sequence[ContextLink | ContextLinkDict] | None = None,
        **options: Unpack[CallOptions],
    ) -> Context:
        """Change a context's fields (``PATCH /v1/contexts/{id}``); the ones not given are kept.

        The API documents ``name``, ``prompt`` and ``opening_text`` as required in the body: when
        any of them is not given, the context is read first (``GET``) and its own values are sent.

        Raises:
            ConfigurationError: a malformed id, an empty text, a bad link, nothing to change.
            NotFoundError: no such context.
        """
        check_uuid(context_id, "context_id")
        text_or_none(name, "name", max_length=200)
        text_or_none(prompt, "prompt", max_length=100_000)
        text_or_none(opening_text, "opening_text")
        given = {
            "name": name,
            "prompt": prompt,
            "opening_text": opening_text,
            "links": None if links is None else check_links(links),
        }
        body = fields_of(given, what="name")
        if any(body.get(key) is None for key in _CONTEXT_REQUIRED):
            current = await self.get(context_id, **options)
            for key in _CONTEXT_REQUIRED:
                if body.get(key) is None and getattr(current, key) is not None:
                    body[key] = getattr(current, key)
        context: Context = await self._send(CONTEXT_UPDATE, options, id=context_id, json=body)
        return context

    async def delete(self, context_id: str, **options: Unpack[CallOptions]) -> None:
        """Delete a context (``DELETE /v1/contexts/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such context.
        """
        check_uuid(context_id, "context_id")
        await self._send(CONTEXT_DELETE, options, id=context_id)
