"""Append-only JSON-lines journals: how finished work survives a kill.

Used for the grid search (``grid.jsonl``), trained family members (``members.jsonl``),
verification runs (``verify.jsonl``) and measured step times (``step_times.jsonl``).
Each record is one line written with a single ``write`` in append mode and fsync'd, so
concurrent writers on one machine do not interleave and a kill leaves at worst a torn
last line, which reading skips and ``compact`` drops.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from search_spaces.files import OutputError, atomic_write

__all__ = ["append", "compact", "read", "write_data"]


def read(path: Path) -> list[dict[str, Any]]:
    """The complete records of ``path`` in order (none if it does not exist)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def append(path: Path, record: dict[str, Any]) -> None:
    """Add one record durably (NaN is written as JSON's ``NaN``, which ``read`` accepts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)  # never through a link
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{path}: is a link; effnas does not write through links") from None
        raise
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def compact(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``path`` by ``records`` atomically: a torn last line is not appended after."""
    if not path.exists():
        return
    atomic_write(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def write_data(path: str | Path, data: dict[str, Any]) -> None:
    """A benchmark's results file, replaced whole (a reader never sees half of one), with the
    command that made it, the library versions it ran with and when it was written."""
    import numpy
    import optuna
    import torch

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        **data,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "optuna": optuna.__version__,
        },
        "written": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    atomic_write(out, json.dumps(record, indent=1) + "\n")
