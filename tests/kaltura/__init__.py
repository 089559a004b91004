"""Tests of ``aioavatar.kaltura``, a file per module."""
