"""Writing files: every output goes through ``atomic_write``.

A file is written to a fresh temporary name in its destination folder (``tempfile``, so
never through a link or over a user's file of a fixed name), flushed, fsync'd and renamed
over the destination in one step: a reader or a kill sees the old file or the new one,
never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_with"]


def atomic_write(path: Path, data: str | bytes) -> None:
    """Replace ``path`` by ``data`` (text is UTF-8) atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())

    atomic_write_with(path, write)


def atomic_write_with(path: Path, write: Callable[[Path], None]) -> None:
    """Let ``write(tmp)`` fill a fresh temporary file beside ``path``, then rename it over ``path``.

    For writers that take a path (a plot, an ONNX export). The temporary file is removed
    if ``write`` fails.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
