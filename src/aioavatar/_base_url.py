"""The API root a client talks to: given, else from the provider's environment variable, else its
default; checked (https, or http to loopback) and written one way for every provider."""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

from ._validation import shown
from .exceptions import ConfigurationError

__all__ = ["check_base_url", "host_name_ok", "resolve_base_url"]


def resolve_base_url(
    given: str | None, *, env: str, default: str, allow_insecure: bool = False
) -> str:
    """The API root a client talks to: ``given``, else the environment variable ``env``, else
    ``default``.

    One convention for every provider: the root is the scheme and host (and any proxy prefix), without
    the API version; the paths carry it (``/v1/sessions``, ``/v1/avatar-session/...``). A trailing
    ``/`` or ``/v1`` is dropped, so a root copied from either provider's docs works.

    Raises:
        ConfigurationError: naming ``base_url`` (or the variable, when the value came from it) for a URL
            that is not http(s) with a host, carries credentials, a query or a fragment, or is plain
            ``http://`` to a non-loopback host without ``allow_insecure``.
    """
    field = "base_url"
    if given is None:
        from_env = os.environ.get(env, "").strip()
        if from_env:
            given, field = from_env, env
        else:
            given = default
    url = check_base_url(given, allow_insecure=allow_insecure, field=field)
    return url.removesuffix("/v1")


def check_base_url(base_url: str, *, allow_insecure: bool = False, field: str = "base_url") -> str:
    """Validate an API base URL: ``https://`` anywhere, ``http://`` only for loopback or when allowed.

    Returns the URL without a trailing slash.

    Raises:
        ConfigurationError: naming ``field``.
    """
    if not isinstance(allow_insecure, bool):
        raise ConfigurationError("must be True or False", field="allow_insecure")
    if not isinstance(base_url, str):
        raise ConfigurationError(
            f"must be a string URL, got {type(base_url).__name__}", field=field
        )
    try:
        parts = urlsplit(base_url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError:  # an unbalanced "[" or a bad port
        raise ConfigurationError(
            f"is not a valid URL: {shown(_without_userinfo(base_url))}", field=field
        ) from None
    if any(ord(char) < 0x21 or ord(char) > 0x7E for char in base_url):
        raise ConfigurationError(
            "must be printable ASCII without white space (encode other characters)", field=field
        )
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigurationError(
            f"must be an http(s) URL with a host, got {shown(_without_userinfo(base_url))}",
            field=field,
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("must not carry credentials, a query or a fragment", field=field)
    if not host_name_ok(hostname):  # else the first request fails on a UnicodeError of the lookup
        raise ConfigurationError(
            f"has a host name that cannot be looked up (an empty label, or one over 63 "
            f"characters): {shown(hostname)}",
            field=field,
        )
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(hostname):
        raise ConfigurationError(
            "plain http:// is refused for a non-loopback host (credentials would travel in clear); "
            "use https:// or pass allow_insecure=True",
            field=field,
        )
    return base_url.rstrip("/")


def host_name_ok(host: str) -> bool:
    """Whether ``host`` (an address, or a name) can be looked up: as a name, none of its labels is
    empty (but a last one, the root's) or over 63 characters, as the resolver's IDNA encoding asks."""
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_userinfo(url: str) -> str:
    """``url`` with what comes before an ``@`` in its authority left out (a password, say)."""
    return re.sub(r"(//)[^/?#]*@", r"\1...@", url, count=1)
