"""Control characters in article text: removed when articles are read, shown harmlessly on output.

A title or body may carry terminal escape sequences (ESC ] 0 ; title BEL sets the window title,
ESC [ 2 J clears the screen, OSC 8 makes links): printed raw they act on the reader's terminal.
Readers drop every control character but newline and tab (`strip`); everything that prints
article text, ids or paths shows what is left in indexes built before as visible symbols
(`shown`, `printable`, `json_text`), so a search never writes an escape sequence it was given.
"""

from __future__ import annotations

import copy
import dataclasses
import re

# C0 controls but tab and newline, DEL, and the C1 controls (0x9b is a one-byte CSI on some
# terminals): they carry escape sequences and no text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# One character for one, so offsets into a text (highlight spans) stay right: the Unicode
# control pictures (ESC shows as ␛, BEL as ␇) for C0 and DEL, the replacement character for C1.
_PICTURES = {**{c: 0x2400 + c for c in range(32) if c not in (9, 10)}, 0x7F: 0x2421,
             **{c: 0xFFFD for c in range(0x80, 0xA0)}}
_JSON_RAW = re.compile(r"[\x7f-\x9f]")  # what json.dumps(ensure_ascii=False) leaves unescaped


def strip(text: str) -> str:
    """`text` without control characters (carriage returns become newlines)."""
    if text.isprintable():
        return text
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def shown(text: str) -> str:
    """`text` with each control character (but newline and tab) as a visible symbol."""
    return text if text.isprintable() else text.translate(_PICTURES)


def printable(value):
    """A copy of `value` (strings, dataclasses, lists, dicts, sets of them) with every string
    `shown`; anything else is kept as it is."""
    if isinstance(value, str):
        return shown(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        new = None
        for f in dataclasses.fields(value):
            old = getattr(value, f.name, None)
            safe = printable(old)
            if safe is not old:
                new = new or copy.copy(value)
                object.__setattr__(new, f.name, safe)  # frozen dataclasses too
        return new or value
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(printable(v) for v in value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(printable(v) for v in value)
    return value


def json_text(serialized: str) -> str:
    """JSON text with DEL and the C1 controls written as \\u escapes (the same JSON value):
    json.dumps escapes the other control characters itself."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m[0]):04x}", serialized)
