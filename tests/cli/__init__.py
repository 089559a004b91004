"""Tests of the console script (``aioavatar._cli``), a file per module of the command line."""
