"""Tests of ``aioavatar.liveavatar``, a file per module."""
