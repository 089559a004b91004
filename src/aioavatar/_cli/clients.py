"""Credentials and clients for the commands: from the flags (``--api-key``, ``--ks``, ``--base-url``,
``--region``, ``--allow-insecure``) or the environment, with the library's refusals said in the command
line's words."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TypeVar, cast

from .. import ConfigurationError, KalturaAvatarClient, LiveAvatarClient, Region
from .common import API_KEY_ENV, KS_ENV, UsageError, base_url_source, names_base_url

__all__ = ["kaltura_client", "liveavatar_client", "require_api_key", "require_ks"]

ClientT = TypeVar("ClientT", LiveAvatarClient, KalturaAvatarClient)


def require_api_key(args: argparse.Namespace, hint: str = "") -> str:
    """The API key from ``--api-key``, else ``LIVEAVATAR_API_KEY``.

    Raises:
        UsageError: neither is set (or it is blank).
    """
    key = (getattr(args, "api_key", None) or os.environ.get(API_KEY_ENV, "")).strip()
    if not key:
        raise UsageError(
            f"no API key: set {API_KEY_ENV} to your LiveAvatar API key (or pass --api-key){hint}"
        )
    return key


def require_ks(args: argparse.Namespace, hint: str = "") -> str:
    """The admin KS from ``--ks``, else ``KALTURA_AVATAR_KS``.

    Raises:
        UsageError: neither is set (or it is blank).
    """
    ks = (getattr(args, "ks", None) or os.environ.get(KS_ENV, "")).strip()
    if not ks:
        raise UsageError(f"no Kaltura Session: set {KS_ENV} to an admin KS (or pass --ks){hint}")
    return ks


def liveavatar_client(args: argparse.Namespace, *, api_key: str | None = None) -> LiveAvatarClient:
    """A client from ``--api-key``/``LIVEAVATAR_API_KEY`` (or ``api_key``), ``--base-url`` and
    ``--allow-insecure``; enter it inside the running loop.

    Raises:
        UsageError: no API key, or an http:// URL to another host; ConfigurationError: a bad base URL.
    """
    key = api_key if api_key is not None else require_api_key(args)
    return _checked(
        lambda insecure: LiveAvatarClient(key, base_url=args.base_url, allow_insecure=insecure),
        args,
        credential="API key",
    )


def kaltura_client(args: argparse.Namespace, ks: str | None) -> KalturaAvatarClient:
    """A Kaltura client (with ``ks``, or none to drive sessions by their token) from ``--region``,
    ``--base-url`` and ``--allow-insecure``.

    Raises:
        UsageError: an http:// URL to another host; ConfigurationError: a bad base URL.
    """
    region = cast(Region, getattr(args, "region", None) or "nvp1")  # argparse checked the choice
    return _checked(
        lambda insecure: KalturaAvatarClient(
            ks, region=region, base_url=args.base_url, allow_insecure=insecure
        ),
        args,
        credential="KS" if ks is not None else "session token",
    )


def _checked(
    build: Callable[[bool], ClientT], args: argparse.Namespace, *, credential: str
) -> ClientT:
    """``build(allow_insecure)``, with the library's refusal of an http:// URL to another host said
    in the command line's words."""
    allowed = bool(getattr(args, "allow_insecure", False))
    try:
        return build(allowed)
    except ConfigurationError as exc:
        if allowed or not names_base_url(exc):
            raise
        try:
            build(True)
        except ConfigurationError:
            raise exc from None
        raise UsageError(
            f"{base_url_source(exc)} is a plain http:// URL to a host other than this machine: https:// is "
            f"required (the {credential} would travel in clear); use https://, or --allow-insecure "
            "for an emulator you trust on another host"
        ) from None
