"""Reading JSON content files (encounters, templates) with errors people can act on.

One place for it, so every reader reports the same way: the file, then the line and
column of malformed JSON. Limits: files over ``max_bytes`` are refused before they are
read, a UTF-8 byte-order mark is accepted, and pathological input (nesting deeper than
the parser's recursion limit, integers with thousands of digits) is reported as an
error instead of crashing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import FieldError, ValidationFailed

#: Default cap on content files: ``ae generate --count 10000`` writes about 20 MB.
MAX_CONTENT_BYTES = 64 * 1024 * 1024


def _problem(source: str, message: str) -> ValidationFailed:
    return ValidationFailed(source, [FieldError("", message)])


def parse_json(text: str, source: str) -> Any:
    """Parse JSON text; raise :class:`ValidationFailed` naming ``source`` on failure."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _problem(
            source, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise _problem(source, "JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python allows
        raise _problem(source, f"JSON value out of range: {exc}") from None


def read_json_file(path: str | Path, *, max_bytes: int = MAX_CONTENT_BYTES) -> Any:
    """Read and parse one JSON file, or raise :class:`ValidationFailed` with one line
    saying what is wrong with it."""
    path = Path(path)
    source = str(path)
    try:
        if path.stat().st_size > max_bytes:
            raise _problem(source, f"file is larger than {max_bytes // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _problem(source, "file not found") from None
    except IsADirectoryError:
        raise _problem(source, "is a folder, not a file") from None
    except UnicodeDecodeError:
        raise _problem(source, "not UTF-8 text") from None
    except OSError as exc:
        raise _problem(source, f"cannot read: {exc.strerror}") from None
    return parse_json(text, source)
