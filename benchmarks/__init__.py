"""The aioavatar benchmarks: ``python -m benchmarks`` or ``nox -s bench`` (see ``benchmarks/README.md``)."""
