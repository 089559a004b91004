"""The namespaces of what a FULL session's agent refers to: ``client.llm_configurations``,
``client.secrets``, ``client.memories`` and ``client.embeddings`` (the rules are ``_resources``').

A secret's value is a credential: it is held as a :class:`~aioavatar.Secret`, masked in every log
record and error while the client lives (whatever the server echoes), sent once, never read back.
"""

from __future__ import annotations

from typing import Any, Unpack
from urllib.parse import urlsplit

from .._logging import track_secret
from .._options import CallOptions
from .._pager import Pager
from .._secret import Secret
from .._validation import check_credential, check_int, check_text, check_uuid, shown
from ..exceptions import ConfigurationError
from ._endpoints import (
    EMBED_CREATE,
    LLM_CONFIGURATION_CREATE,
    LLM_CONFIGURATION_DELETE,
    LLM_CONFIGURATION_GET,
    LLM_CONFIGURATION_UPDATE,
    LLM_CONFIGURATIONS,
    MEMORIES,
    MEMORY_CREATE,
    MEMORY_DELETE,
    MEMORY_GET,
    SECRET_CREATE,
    SECRET_DELETE,
    SECRETS,
)
from ._enums import (
    EmbedType,
    EmbedTypeName,
    Orientation,
    OrientationName,
    SecretType,
    SecretTypeName,
)
from ._models import MAX_SESSION_DURATION
from ._resource_models import AccountSecret, Embed, LLMConfiguration, SessionMemory
from ._resources import DEFAULT_PAGE_SIZE, Resource, fields_of, text_or_none, uuid_or_none

__all__ = ["Embeddings", "LLMConfigurations", "Memories", "Secrets"]


def _base_url(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ConfigurationError(f"must be an http(s) URL, got {shown(value)}", field="base_url")
    try:
        host = urlsplit(value).hostname
    except ValueError:  # a malformed port or IPv6 literal
        host = None
    if not host:
        raise ConfigurationError(f"must name a host, got {shown(value)}", field="base_url")
    return check_text(value, "base_url", max_length=2000)


class LLMConfigurations(Resource):
    """``client.llm_configurations``: OpenAI-compatible ``/chat/completions`` endpoints a FULL session
    may think with (``llm_configuration_id`` of the token request)."""

    __slots__ = ()

    def list(self, **options: Unpack[CallOptions]) -> Pager[LLMConfiguration]:
        """Every configuration (``GET /v1/llm-configurations``; the API answers them all at once:
        one page)."""
        return self._whole_list(LLM_CONFIGURATIONS, options)

    async def create(
        self,
        *,
        display_name: str,
        model_name: str,
        secret_id: str,
        base_url: str | None = None,
        **options: Unpack[CallOptions],
    ) -> LLMConfiguration:
        """Create a configuration (``POST /v1/llm-configurations``): the model, the stored secret
        holding its key, and its root when it is not OpenAI's. Not retried once sent.

        Raises:
            ConfigurationError: an empty name, a malformed ``secret_id``, a ``base_url`` that is not
                an http(s) URL.
        """
        body: dict[str, Any] = {
            "display_name": check_text(display_name, "display_name", max_length=200),
            "model_name": check_text(model_name, "model_name", max_length=200),
            "secret_id": secret_id,
        }
        check_uuid(secret_id, "secret_id")
        if (url := _base_url(base_url)) is not None:
            body["base_url"] = url
        made: LLMConfiguration = await self._send(LLM_CONFIGURATION_CREATE, options, json=body)
        return made

    async def get(
        self, llm_configuration_id: str, **options: Unpack[CallOptions]
    ) -> LLMConfiguration:
        """One configuration (``GET /v1/llm-configurations/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such configuration.
        """
        check_uuid(llm_configuration_id, "llm_configuration_id")
        found: LLMConfiguration = await self._send(
            LLM_CONFIGURATION_GET, options, id=llm_configuration_id
        )
        return found

    async def update(
        self,
        llm_configuration_id: str,
        *,
        display_name: str | None = None,
        model_name: str | None = None,
        secret_id: str | None = None,
        base_url: str | None = None,
        **options: Unpack[CallOptions],
    ) -> LLMConfiguration:
        """Change a configuration's fields (``PATCH /v1/llm-configurations/{id}``).

        Raises:
            ConfigurationError: a malformed id, a bad field, nothing to change.
        """
        check_uuid(llm_configuration_id, "llm_configuration_id")
        text_or_none(display_name, "display_name", max_length=200)
        text_or_none(model_name, "model_name", max_length=200)
        uuid_or_none(secret_id, "secret_id")
        given = {
            "display_name": display_name,
            "model_name": model_name,
            "secret_id": secret_id,
            "base_url": _base_url(base_url),
        }
        body = fields_of(given, what="display_name")
        changed: LLMConfiguration = await self._send(
            LLM_CONFIGURATION_UPDATE, options, id=llm_configuration_id, json=body
        )
        return changed

    async def delete(self, llm_configuration_id: str, **options: Unpack[CallOptions]) -> None:
        """Delete a configuration (``DELETE /v1/llm-configurations/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such configuration.
        """
        check_uuid(llm_configuration_id, "llm_configuration_id")
        await self._send(LLM_CONFIGURATION_DELETE, options, id=llm_configuration_id)


class Secrets(Resource):
    """``client.secrets``: the third-party keys the account stores (an LLM's, ElevenLabs', ...)."""

    __slots__ = ()

    def list(self, **options: Unpack[CallOptions]) -> Pager[AccountSecret]:
        """Every stored secret, by name and kind, never its value (``GET /v1/secrets``; one page)."""
        return self._whole_list(SECRETS, options)

    async def create(
        self,
        *,
        secret_name: str,
        secret_value: str | Secret,
        secret_type: SecretType | SecretTypeName,
        **options: Unpack[CallOptions],
    ) -> AccountSecret:
        """Store a secret (``POST /v1/secrets``). ``secret_value`` is masked in every log record and
        error for as long as this client lives. Not retried once sent.

        Raises:
            ConfigurationError: an empty name, a value that is not printable text without white
                space (the message never shows it), an unknown ``secret_type``.
        """
        check_text(secret_name, "secret_name", max_length=200)
        if not isinstance(secret_value, str | Secret):
            raise ConfigurationError("must be a string or a Secret", field="secret_value")
        value = Secret(secret_value)
        check_credential(value.get_secret_value(), "secret_value")
        try:
            kind = SecretType.known(secret_type)
        except ValueError as exc:
            raise ConfigurationError(str(exc), field="secret_type") from None
        track_secret(self._client, value)  # masked while the client lives: logs, errors, echoes
        body = {
            "secret_name": secret_name,
            "secret_value": value.get_secret_value(),
            "secret_type": kind.value,
        }
        # An answer that echoes the value (in the name, say) reads it masked.
        secrets = (value.get_secret_value(),)
        stored: AccountSecret = await self._send(SECRET_CREATE, options, json=body, secrets=secrets)
        return stored

    async def delete(self, secret_id: str, **options: Unpack[CallOptions]) -> None:
        """Delete a stored secret (``DELETE /v1/secrets/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such secret.
        """
        check_uuid(secret_id, "secret_id")
        await self._send(SECRET_DELETE, options, id=secret_id)


class Memories(Resource):
    """``client.memories``: what a session remembers for the next (``memory`` of a token request)."""

    __slots__ = ()

    def list(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, **options: Unpack[CallOptions]
    ) -> Pager[SessionMemory]:
        """The account's memories (``GET /v1/memory``).

        Raises:
            ConfigurationError: ``page_size`` outside 1..100, a bad option.
        """
        return self._pages(MEMORIES, page_size, options)

    async def create(self, *, session_id: str, **options: Unpack[CallOptions]) -> SessionMemory:
        """Make a memory of a session (``POST /v1/memory``, ``memory_type: "session"``). Not retried
        once sent.

        Raises:
            ConfigurationError: a malformed ``session_id``. NotFoundError: no such session.
        """
        check_uuid(session_id, "session_id")
        body = {"memory_type": "session", "session_id": session_id}
        made: SessionMemory = await self._send(MEMORY_CREATE, options, json=body)
        return made

    async def get(self, memory_id: str, **options: Unpack[CallOptions]) -> SessionMemory:
        """One memory, with its ``session_episodes`` (``GET /v1/memory/{id}``).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such memory.
        """
        check_uuid(memory_id, "memory_id")
        found: SessionMemory = await self._send(MEMORY_GET, options, id=memory_id)
        return found

    async def delete(self, memory_id: str, **options: Unpack[CallOptions]) -> None:
        """Delete a memory (``DELETE /v1/memory/{id}``; the server answers 204, no body).

        Raises:
            ConfigurationError: a malformed id. NotFoundError: no such memory.
        """
        check_uuid(memory_id, "memory_id")
        await self._send(MEMORY_DELETE, options, id=memory_id)


class Embeddings(Resource):
    """``client.embeddings``: an avatar embedded in a web page (``POST /v2/embeddings``)."""

    __slots__ = ()

    async def create(
        self,
        *,
        avatar_id: str,
        context_id: str,
        voice_id: str | None = None,
        type: EmbedType | EmbedTypeName = EmbedType.DEFAULT,  # the API's own name
        max_session_duration: int | None = None,
        default_language: str | None = None,
        is_sandbox: bool = False,
        orientation: Orientation | OrientationName = Orientation.HORIZONTAL,
        **options: Unpack[CallOptions],
    ) -> Embed:
        """Create an embed; returns its ``url`` (and ``script``, for a widget). Not retried once sent.

        Raises:
            ConfigurationError: a malformed id, an unknown ``type`` or ``orientation``, a duration
                outside 1..86400 s, ``is_sandbox`` not a bool.
        """
        check_uuid(avatar_id, "avatar_id")
        check_uuid(context_id, "context_id")
        uuid_or_none(voice_id, "voice_id")
        if not isinstance(is_sandbox, bool):
            raise ConfigurationError("must be True or False", field="is_sandbox")
        try:
            kind = EmbedType(type)
        except ValueError:
            raise ConfigurationError(
                f"must be 'DEFAULT' or 'WIDGET', got {shown(type)}", field="type"
            ) from None
        try:
            facing = Orientation.known(orientation)
        except ValueError as exc:
            raise ConfigurationError(str(exc), field="orientation") from None
        body: dict[str, Any] = {
            "avatar_id": avatar_id,
            "context_id": context_id,
            "type": kind.value,
            "is_sandbox": is_sandbox,
            "orientation": facing.value,
        }
        if voice_id is not None:
            body["voice_id"] = voice_id
        if max_session_duration is not None:
            body["max_session_duration"] = check_int(
                max_session_duration, "max_session_duration", low=1, high=MAX_SESSION_DURATION
            )
        if language := text_or_none(default_language, "default_language", max_length=20):
            body["default_language"] = language
        embed: Embed = await self._send(EMBED_CREATE, options, json=body)
        return embed
