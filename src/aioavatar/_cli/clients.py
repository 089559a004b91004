"""Credentials and clients for the commands: from the flags (``--api-key``, ``--ks``, ``--base-url``,
``--region``) or the environment."""

from __future__ import annotations

import argparse
import os

from .. import KalturaAvatarClient, LiveAvatarClient
from .common import API_KEY_ENV, KS_ENV, UsageError

__all__ = ["kaltura_client", "liveavatar_client", "require_api_key", "require_ks"]


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
    return LiveAvatarClient(key, base_url=args.base_url)


def kaltura_client(args: argparse.Namespace, ks: str | None) -> KalturaAvatarClient:
    """A Kaltura client (with ``ks``, or none to drive sessions by their token) from ``--region``,
    ``--base-url`` and ``--allow-insecure``.

    Raises:
        UsageError: an http:// URL to another host; ConfigurationError: a bad base URL.
    """
    return KalturaAvatarClient(
        ks, region=getattr(args, "region", None) or "nvp1", base_url=args.base_url
    )
