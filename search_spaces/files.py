"""Writing files: names, output folders and atomic writes.

Every output of effnas is written through ``OutputDir`` (a folder the user named: nothing
leaves it, nothing is written through a link, nothing is replaced unless it is a run's own
regenerated report) and ``atomic_write``. A file is written to a fresh temporary name in
its destination folder (``tempfile``, so never through a link or over a user's file of a
fixed name), flushed, fsync'd and renamed over the destination in one step: a reader or a
kill sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MAX_NAME",
    "OutputDir",
    "OutputError",
    "atomic_write",
    "atomic_write_with",
    "name_problem",
    "new_output_file",
    "printable",
    "real_path",
    "sanitize_name",
]


def atomic_write(path: Path, data: str | bytes) -> None:
    """Replace ``path`` by ``data`` (text is UTF-8) atomically."""
    atomic_write_with(path, lambda tmp: _write_bytes(tmp, data))


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


# --------------------------------------------------------------------------- names and output folders

MAX_NAME = 200
"""The longest architecture or run name (a file name component has at most 255 bytes)."""


class OutputError(ValueError):
    """An output path that would leave the folder the user named, write through a link, or replace a file."""


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be an architecture or run name, or None if it can.

    Names become file names (``runs/NAME``, ``NAME-phi3.json``): they are non-empty, at
    most ``MAX_NAME`` characters, and hold no path separator, no ``..`` and no control
    character.
    """
    if not isinstance(name, str) or not name:
        return "must be a non-empty name"
    if len(name) > MAX_NAME:
        return f"must be at most {MAX_NAME} characters"
    if "/" in name or "\\" in name:
        return "must be a name, not a path (no '/' or '\\')"
    if ".." in name:
        return "must not contain '..'"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "must not contain control characters"
    return None


def sanitize_name(name: object) -> str:
    """A usable name from one recorded before names were checked: separators, ``..`` and
    control characters become ``_`` (and an empty or overlong name is cut or replaced)."""
    text = "".join("_" if unicodedata.category(c) == "Cc" or c in "/\\" else c for c in str(name or "unnamed"))
    while ".." in text:
        text = text.replace("..", "_")
    return text[:MAX_NAME] or "unnamed"


def printable(text: str, *, limit: int = 400) -> str:
    """``text`` safe for a terminal line: control characters escaped, and at most ``limit`` characters."""
    shown = "".join(c if unicodedata.category(c) != "Cc" else ascii(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(shown) - limit} more characters)"


def real_path(path: str | Path) -> Path:
    """``path`` with links and ``..`` resolved, whether or not it exists (``new/..`` is the folder itself)."""
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class OutputDir:
    """A folder the user named for a command's output; every write goes through here.

    ``root`` is its real path. A write stays inside it after resolving links and ``..``,
    never goes through a link at the destination, and never replaces a file unless asked
    to (a run's own reports, regenerated).
    """

    root: Path

    @classmethod
    def create(cls, path: str | Path, *, what: str = "--out") -> OutputDir:
        """A new (or empty) folder: anything that exists there is never replaced."""
        root = real_path(path)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise OutputError(f"{what}: {path} already exists and is not empty; choose another directory")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{what}: cannot create {path} ({exc.strerror or exc})") from None
        return cls(root)

    @classmethod
    def existing(cls, path: str | Path, *, what: str = "--out") -> OutputDir:
        """A folder that exists already (a run directory being resumed or reported)."""
        root = real_path(path)
        if not root.is_dir():
            raise OutputError(f"{what}: {path} is not a directory")
        return cls(root)

    def path(self, relative: str | Path) -> Path:
        """Where ``relative`` lies; an error if it would leave the folder."""
        rel = Path(relative)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise OutputError(f"{printable(str(relative))}: must be a relative path inside {self.root}")
        target = self.root / rel
        parent = real_path(target.parent)
        if parent != self.root and self.root not in parent.parents:
            raise OutputError(f"{printable(str(relative))}: leaves {self.root} (through a link); not written")
        return parent / target.name

    def write(self, relative: str | Path, data: str | bytes, *, replace: bool = False) -> Path:
        """Write a file inside the folder atomically (``atomic_write``)."""
        return self.write_with(relative, lambda tmp: _write_bytes(tmp, data), replace=replace)

    def write_with(self, relative: str | Path, write: Callable[[Path], None], *, replace: bool = False) -> Path:
        """Let ``write(tmp)`` fill the file, as ``atomic_write_with`` does, inside the folder."""
        target = self.path(relative)
        if os.path.lexists(target):
            if target.is_symlink():
                raise OutputError(f"{target}: is a link; effnas does not write through links")
            if not replace:
                raise OutputError(f"{target}: already exists; effnas never replaces a file")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_with(target, write)
        except OSError as exc:  # a folder that takes no files (/proc), permissions, a full disk
            raise OutputError(f"cannot write {target} ({exc.strerror or exc})") from None
        return target

    def folder(self, relative: str | Path) -> OutputDir:
        """A sub-folder (made if needed), itself an output folder inside this one."""
        target = self.path(relative)
        if target.is_symlink():
            raise OutputError(f"{target}: is a link; effnas does not write through links")
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write {target} ({exc.strerror or exc})") from None
        return OutputDir(target)


def new_output_file(path: str | Path, *, what: str = "--out") -> tuple[OutputDir, str]:
    """The folder and name of a new single output file (``nas export --out FILE``)."""
    given = Path(path)
    if not given.name or given.name in (".", ".."):
        raise OutputError(f"{what}: {printable(str(path))} is not a file name")
    folder = real_path(given.parent)
    if not folder.is_dir():
        raise OutputError(f"{what}: directory {given.parent} does not exist")
    if os.path.lexists(folder / given.name):
        raise OutputError(f"{what}: {path} already exists; choose another path or remove it")
    return OutputDir(folder), given.name


def _write_bytes(tmp: Path, data: str | bytes) -> None:
    with tmp.open("wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def staged_folder(target: Path) -> Iterator[OutputDir]:
    """A new folder written as a whole: filled as ``NAME.partial`` beside ``target``, renamed to
    ``target`` when the block ends without error, so a folder that exists is complete. A
    ``.partial`` left by a killed writer is removed first; ``target`` must not exist."""
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    yield OutputDir.create(partial)
    os.rename(partial, target)
