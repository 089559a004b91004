"""The one JSON reader (every answer and realtime frame) and writer (every request body and frame).

Both are the standard library's own C scanner and encoder, without the Python layers that
``json.loads`` and ``json.dumps`` wrap around them on every call: on a keep-alive, those layers
cost more than reading the answer and writing the body themselves. What they accept, refuse and
write is the same (``tests/test_json.py`` compares them over generated values).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any, Final

__all__ = ["TooDeep", "dump_json", "parse_json"]


class TooDeep(ValueError):
    """JSON nested deeper than the parser's recursion allows."""


#: Its ``raw_decode`` is ``json.loads`` without the whitespace regexes and layers around it.
_DECODER: Final = json.JSONDecoder()
#: JSON's own whitespace (RFC 8259): the only text allowed after the value.
_WHITESPACE: Final = " \t\n\r"

#: ``json.dumps(value, separators=(",", ":"))``: compact, ASCII. The standard encoder makes one of
#: these C encoders per call; this one is made once (without the circular-reference check: a cycle
#: runs into the recursion limit, and the standard encoder then says what is wrong).
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"))
# Not in typeshed, and None on an interpreter without the C accelerator: then json.dumps it is.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Final = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None, _ENCODER.default, encode_basestring_ascii, None, ":", ",", False, False, True
    )
)


def parse_json(data: bytes | str) -> Any:
    """``json.loads`` that raises only ``ValueError`` (JSON nested too deeply for the parser is one
    too, not a ``RecursionError``).

    Raises:
        ValueError: not JSON, not UTF-8, or nested too deeply.
    """
    try:
        text = data if isinstance(data, str) and data[:1] == "{" else None
        if isinstance(data, bytes) and data[:1] == b"{" and data[1:2] != b"\x00":
            # What json.loads would find by sniffing (no BOM, no UTF-16/32 zero byte): UTF-8.
            text = data.decode("utf-8", "surrogatepass")
        if text is not None:  # an object (every answer and frame): read as json.loads reads it
            value, end = _DECODER.raw_decode(text)
            if end != len(text) and text[end:].strip(_WHITESPACE):
                raise ValueError(f"extra data after the JSON value at {end}")
            return value
        return json.loads(data)
    except RecursionError:
        raise TooDeep("nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None


def dump_json(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"))``.

    Raises:
        TypeError: a value JSON cannot hold. ValueError: a circular reference.
    """
    if _C_ENCODE is not None:
        try:
            return "".join(_C_ENCODE(value, 0))
        except RecursionError:
            pass  # a cycle, or nesting past the limit: the standard encoder's own error
    return _ENCODER.encode(value)
