"""Tests of the emulators in ``aioavatar.testing``, laid out like the package."""
