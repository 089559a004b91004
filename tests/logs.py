"""Log records for the tests: a handler that keeps them, and every logger a credential could reach."""

from __future__ import annotations

import logging

__all__ = ["LOGGERS", "Keep"]

LOGGERS = [
    "",
    "aioavatar",
    "aiohttp",
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "asyncio",
]


class Keep(logging.Handler):
    """A handler that keeps every record it is given, at any level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
