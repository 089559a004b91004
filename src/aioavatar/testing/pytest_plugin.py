"""The pytest fixtures of aioavatar under the package's name (``liveavatar_emulator``,
``liveavatar_client``, ``kaltura_emulator``, ``kaltura_client``).

pytest loads them through the ``aioavatar`` entry point, from the top-level ``_aioavatar_pytestplugin``
module, which imports nothing of aioavatar until a fixture is used; see its documentation. This module is
for a ``conftest.py`` that names the plugin itself (``pytest_plugins = ["aioavatar.testing.pytest_plugin"]``
with plugin autoloading off).
"""

from __future__ import annotations

from _aioavatar_pytestplugin import (
    fast_retries,
    kaltura_client,
    kaltura_emulator,
    liveavatar_client,
    liveavatar_emulator,
)

__all__ = [
    "FAST_RETRIES",
    "kaltura_client",
    "kaltura_emulator",
    "liveavatar_client",
    "liveavatar_emulator",
]

#: The retry policy of the fixtures' clients: the production rules, with millisecond backoff.
FAST_RETRIES = fast_retries()
