"""Atomic file writes: a file appears under its final name complete, or not at all.

Every writer in :mod:`maggie.io` writes to a hidden temporary file in the destination folder
and renames it with :func:`os.replace` only after the write succeeded. The rename is atomic on
one file system, which is why the temporary file lives next to the destination rather than in
``/tmp``. A failed write (exception, Ctrl-C) removes its temporary file; a killed process can
leave one behind, and :func:`remove_temp_files` clears those before a resumed run.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "TEMP_MARKER",
    "temp_path_for",
    "atomic_path",
    "write_text_atomic",
    "write_json_atomic",
    "remove_temp_files",
]

# Part of every temporary name, so that leftovers can be recognised and never mistaken for outputs.
TEMP_MARKER = ".maggie-partial"


def temp_path_for(path: Path) -> Path:
    """A fresh hidden temporary name next to ``path``, for writers that rename on close."""
    # Keep the real suffix last: Pillow and FFmpeg pick the file format from it.
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}{TEMP_MARKER}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to ``path``.

    The parent folder is created if needed. If the ``with`` block raises (including
    ``KeyboardInterrupt``), the temporary file is deleted and ``path`` is left untouched: an
    existing file keeps its old content, a new one is never created.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(final)
    try:
        yield temp
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the final path."""
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return Path(path)


def _json_default(value: Any) -> Any:
    # Settings often hold paths and numpy scalars; store them as their plain JSON values.
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically and return the final path.

    Paths are stored as strings and numpy scalars as numbers.
    """
    return write_text_atomic(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def remove_temp_files(root: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files that a killed run left under ``root``; return what was removed."""
    removed = []
    for temp in Path(root).rglob(f".*{TEMP_MARKER}*"):
        if temp.is_file():
            temp.unlink()
            removed.append(temp)
    return removed
