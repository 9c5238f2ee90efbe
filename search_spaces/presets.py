"""Shipped architectures (JSON files in ``search_spaces/presets/``) and name-or-path loading."""

from __future__ import annotations

from pathlib import Path

from .architecture import Architecture, ArchitectureError, read_architecture_file

__all__ = ["PRESET_DIR", "load_architecture", "load_architecture_with_metrics", "preset_names", "preset_path"]

PRESET_DIR = Path(__file__).resolve().parent / "presets"


def preset_names() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


def preset_path(name: str) -> Path:
    """The JSON file of preset ``name``."""
    path = PRESET_DIR / f"{name}.json"
    if name not in preset_names():
        raise ArchitectureError("", f"unknown preset {name!r}; known presets: {', '.join(preset_names())}")
    return path


def load_architecture_with_metrics(path_or_preset: str | Path) -> tuple[Architecture, dict[str, object]]:
    """Load a JSON file, or a preset by name; also return the file's ``metrics`` object."""
    path = Path(path_or_preset)
    if path.is_file():
        return read_architecture_file(path)
    if isinstance(path_or_preset, str) and path_or_preset in preset_names():
        return read_architecture_file(preset_path(path_or_preset))
    if path.exists():
        raise ArchitectureError("", f"{path}: not a file")
    raise ArchitectureError(
        "",
        f"{str(path_or_preset)!r} is neither an architecture file nor a preset; "
        f"known presets: {', '.join(preset_names())}",
    )


def load_architecture(path_or_preset: str | Path) -> Architecture:
    """Load an ``effnas.architecture/1`` JSON file, or a shipped preset by name."""
    return load_architecture_with_metrics(path_or_preset)[0]
