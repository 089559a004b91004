"""The one JSON reader (every answer and realtime frame) and writer (every request body and frame).

Both are the standard library's own C scanner and encoder, without the Python layers that
``json.loads`` and ``json.dumps`` wrap around them on every call: on a keep-alive, those layers
cost more than reading the answer and writing the body themselves. What they accept, refuse and
write is the same (``tests/test_json.py`` compares them over generated values).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any, Final

__all__ = ["TooDeep", "dump_json", "parse_json"]


class TooDeep(ValueError):
    """JSON nested deeper than the parser's recursion allows."""


#: Its scanner (C) is ``json.loads`` without the whitespace regexes and layers around it, and
#: without ``raw_decode``'s own layer: called as ``raw_decode`` calls it.
_DECODER: Final = json.JSONDecoder()
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]
#: JSON's own whitespace (RFC 8259): the only text allowed after the value.
_WHITESPACE: Final = " \t\n\r"

#: ``json.dumps(value, separators=(",", ":"))``: compact, ASCII. The standard encoder makes one of
#: these C encoders per call; this one is made once, and keeps no state between calls: it has no
#: circular-reference check (whose dict an error leaves dirty). Every body is a tree the SDK built
#: from checked models, so a cycle cannot reach it; one that did would run into the recursion limit
#: (slowly: each level writes what precedes the cycle again) and get the standard encoder's error.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"))


def _c_encoder() -> Any:
    """The C encoder, or ``None`` (no C accelerator, or a signature this code does not know: then
    the standard encoder does it all). Not in typeshed."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        return make(
            None, _ENCODER.default, encode_basestring_ascii, None, ":", ",", False, False, True
        )
    except TypeError:
        return None


_C_ENCODE: Final = _c_encoder()


def parse_json(data: bytes | str) -> Any:
    """``json.loads`` that raises only ``ValueError`` (JSON nested too deeply for the parser is one
    too, not a ``RecursionError``).

    Raises:
        ValueError: not JSON, not UTF-8, or nested too deeply.
    """
    try:
        if type(data) is bytes:  # an answer's body
            # UTF-8 when json.loads would find it by sniffing (no BOM, no UTF-16/32 zero byte).
            utf8 = data[:1] == b"{" and data[1:2] != b"\x00"
            text = data.decode("utf-8", "surrogatepass") if utf8 else None
        else:  # a realtime frame
            text = data if isinstance(data, str) and data[:1] == "{" else None
        if text is not None:  # an object (every answer and frame): read as json.loads reads it
            try:
                value, end = _SCAN(text, 0)
            except StopIteration as exc:  # as raw_decode says it
                raise json.JSONDecodeError("Expecting value", text, exc.value) from None
            if end != len(text) and text[end:].strip(_WHITESPACE):
                extra = len(text) - len(text[end:].lstrip(_WHITESPACE))
                raise json.JSONDecodeError("Extra data", text, extra)  # as json.loads says it
            return value
        return json.loads(data)
    except RecursionError:
        raise TooDeep("nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None


def dump_json(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"))``.

    Raises:
        TypeError: a value JSON cannot hold. ValueError: a circular reference, or an integer longer
            than Python converts to text. RecursionError: nesting past the recursion limit (after
            a second walk: the standard encoder's own).
    """
    if type(value) is dict and not value:  # an empty object (a start's body): no encoder pass
        return "{}"
    if _C_ENCODE is not None:
        try:
            return "".join(_C_ENCODE(value, 0))
        except RecursionError:
            pass  # a cycle, or nesting past the limit: the standard encoder's own error
    return _ENCODER.encode(value)
