"""The ``Architecture`` spec: frozen dataclasses and the ``effnas.architecture/1`` JSON format.

An architecture is a stem (3x3 conv, stride 2), a sequence of stages of identical
MBConv or Fused-MBConv blocks, and a head (1x1 conv, pool, dropout, linear). Every other
description in effnas (the built ``torch.nn.Module``, the analytic costs, the timm
strings, the scaled family) is derived from this one spec.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .files import atomic_write, name_problem, printable, sanitize_name

__all__ = [
    "ACTIVATIONS",
    "BLOCKS",
    "FORMAT",
    "Architecture",
    "ArchitectureError",
    "Head",
    "Stage",
    "Stem",
    "architecture_from_dict",
    "architecture_from_record",
    "architecture_hash",
    "architecture_to_dict",
    "dumps_architecture",
    "read_architecture_file",
    "save_architecture",
]

FORMAT = "effnas.architecture/1"

# Bad input fails fast and small: every size an architecture declares is checked first.
MAX_RESOLUTION = 4096
MAX_CHANNELS = 100_000
MAX_REPEATS = 1_000
MAX_STAGES = 64
MAX_KERNEL = 31
MAX_EXPAND = 64
MAX_FILE_CHARS = 10_000_000
"""Limits of the architecture format: far above every published network (B7: 600 px, 2560
channels, 4 repeats per stage before scaling), far below what exhausts memory."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


ACTIVATIONS = ("silu", "relu")
BLOCKS = ("mbconv", "fused_mbconv")
"""The block kinds' names, as written in architecture JSON (``stages[i].block``); each has its
entry in ``registry.BLOCK_KINDS``, which checks that the two agree."""


class ArchitectureError(ValueError):
    """An architecture that does not match the format; the message names the field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Stem:
    """The stem: a 3x3 convolution with stride 2, then BN and the activation (P1 Table 1)."""

    channels: int


@dataclass(frozen=True)
class Stage:
    """``repeats`` identical blocks; ``stride`` applies to the first block only.

    ``channels`` is the stage's output width. ``expand`` multiplies the block's input
    channels. ``se`` is the squeeze-excite ratio of the block's *input* channels
    (``max(1, int(in_channels * se))``), 0 for no SE.
    """

    block: str
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int
    se: float


@dataclass(frozen=True)
class Head:
    """The head: a 1x1 convolution to ``channels``, BN, activation, pool, dropout, linear."""

    channels: int


@dataclass(frozen=True)
class Architecture:
    """One network, independent of ``num_classes``.

    ``bn_momentum`` uses PyTorch's convention (1 - TensorFlow's decay): 0.1 is PyTorch's
    default, which short proxy training needs; the TPU reference uses 0.01. ``bn_eps``
    defaults to TensorFlow's 1e-3 (TPU `efficientnet_builder.py`: BN momentum 0.99, eps 1e-3).
    """

    name: str
    resolution: int
    stem: Stem
    stages: tuple[Stage, ...]
    head: Head
    dropout: float = 0.2
    drop_path: float = 0.2
    activation: str = "silu"
    bn_momentum: float = 0.1
    bn_eps: float = 1e-3

    def __post_init__(self) -> None:
        # Validate the same way whether built in code or loaded from JSON, and normalize
        # (a list of stages becomes a tuple, an integer ratio a float).
        for key, value in _parse(architecture_to_dict(self)).items():
            object.__setattr__(self, key, value)

    @property
    def num_blocks(self) -> int:
        """Total number of blocks (B0 has 16)."""
        return sum(stage.repeats for stage in self.stages)


# --------------------------------------------------------------------------- decoding


def _int(value: Any, path: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArchitectureError(path, f"must be an integer, got {printable(repr(value), limit=40)}")
    if value < minimum:
        raise ArchitectureError(path, f"must be >= {minimum}, got {value!r}")
    if value > maximum:
        raise ArchitectureError(
            path, f"must be <= {maximum:,} (the format's limit), got {printable(repr(value), limit=40)}"
        )
    return value


def _float(value: Any, path: str, *, low: float, high: float) -> float:
    """A number in [low, high)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArchitectureError(path, f"must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value < high:
        raise ArchitectureError(path, f"must be in [{low:g}, {high:g}), got {value!r}")
    return float(value)


def _choice(value: Any, path: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ArchitectureError(path, f"must be one of {', '.join(options)}, got {value!r}")
    return value


def _object(value: Any, path: str, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ArchitectureError(path, f"must be an object, got {type(value).__name__}")
    unknown = sorted(set(value) - required - optional)
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ArchitectureError(where, "unknown key")
    missing = sorted(required - set(value))
    if missing:
        where = f"{path}.{missing[0]}" if path else missing[0]
        raise ArchitectureError(where, "missing")
    return value


def _stage(value: Any, path: str) -> Stage:
    names = {f.name for f in fields(Stage)}
    data = _object(value, path, names, set())
    kernel = _int(data["kernel"], f"{path}.kernel", minimum=1, maximum=MAX_KERNEL)
    if kernel % 2 == 0:
        raise ArchitectureError(f"{path}.kernel", f"must be odd, got {kernel}")
    stride = _int(data["stride"], f"{path}.stride", minimum=1, maximum=MAX_RESOLUTION)
    if stride not in (1, 2):
        raise ArchitectureError(f"{path}.stride", f"must be 1 or 2, got {stride}")
    return Stage(
        block=_choice(data["block"], f"{path}.block", BLOCKS),
        repeats=_int(data["repeats"], f"{path}.repeats", minimum=1, maximum=MAX_REPEATS),
        kernel=kernel,
        stride=stride,
        expand=_int(data["expand"], f"{path}.expand", minimum=1, maximum=MAX_EXPAND),
        channels=_int(data["channels"], f"{path}.channels", minimum=1, maximum=MAX_CHANNELS),
        se=_float(data["se"], f"{path}.se", low=0.0, high=1.0),
    )


_REQUIRED = {"format", "name", "resolution", "stem", "stages", "head"}
_OPTIONAL = {"dropout", "drop_path", "activation", "bn_momentum", "bn_eps", "metrics"}


def architecture_from_dict(data: Any) -> Architecture:
    """Validate a decoded ``effnas.architecture/1`` object and build the spec.

    Every error names the field path and the bad value (``stages[3].kernel: must be odd,
    got 4``). An extra top-level ``metrics`` object is accepted and ignored.
    """
    return Architecture(**_parse(data))


def architecture_from_record(data: Mapping[str, Any]) -> Architecture:
    """An architecture recorded by effnas itself (a study's trial, a journal): as
    ``architecture_from_dict``, but a name from before names were checked is sanitised."""
    return architecture_from_dict({**data, "name": sanitize_name(data.get("name"))})


def _parse(data: Any) -> dict[str, Any]:
    """The validated constructor arguments of an architecture object."""
    data = _object(data, "", _REQUIRED, _OPTIONAL)
    if data["format"] != FORMAT:
        raise ArchitectureError("format", f"must be {FORMAT!r}, got {data['format']!r}")
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise ArchitectureError("name", f"must be a non-empty string, got {name!r}")
    problem = name_problem(name)
    if problem is not None:
        raise ArchitectureError("name", f"{problem}, got {printable(repr(name), limit=80)}")
    stages = data["stages"]
    if not isinstance(stages, list) or not stages:
        raise ArchitectureError("stages", f"must be a non-empty list, got {printable(repr(stages), limit=80)}")
    if len(stages) > MAX_STAGES:
        raise ArchitectureError("stages", f"must have at most {MAX_STAGES} stages, got {len(stages)}")
    if "metrics" in data and not isinstance(data["metrics"], dict):
        raise ArchitectureError("metrics", f"must be an object, got {data['metrics']!r}")
    stem = _object(data["stem"], "stem", {"channels"}, set())
    head = _object(data["head"], "head", {"channels"}, set())
    spec: dict[str, Any] = dict(
        name=name,
        resolution=_int(data["resolution"], "resolution", minimum=1, maximum=MAX_RESOLUTION),
        stem=Stem(channels=_int(stem["channels"], "stem.channels", minimum=1, maximum=MAX_CHANNELS)),
        stages=tuple(_stage(s, f"stages[{i}]") for i, s in enumerate(stages)),
        head=Head(channels=_int(head["channels"], "head.channels", minimum=1, maximum=MAX_CHANNELS)),
        dropout=_float(data.get("dropout", 0.2), "dropout", low=0.0, high=1.0),
        drop_path=_float(data.get("drop_path", 0.2), "drop_path", low=0.0, high=1.0),
        activation=_choice(data.get("activation", "silu"), "activation", ACTIVATIONS),
        bn_momentum=_float(data.get("bn_momentum", 0.1), "bn_momentum", low=0.0, high=1.0),
        bn_eps=_float(data.get("bn_eps", 1e-3), "bn_eps", low=1e-12, high=1.0),
    )
    if spec["bn_momentum"] == 0.0:
        raise ArchitectureError("bn_momentum", "must be > 0, got 0")
    return spec


# --------------------------------------------------------------------------- encoding


def architecture_to_dict(arch: Architecture, metrics: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON object of ``arch``, with every optional field written out."""
    out: dict[str, Any] = {
        "format": FORMAT,
        "name": arch.name,
        "resolution": arch.resolution,
        "stem": {"channels": arch.stem.channels},
        "stages": [
            {
                "block": s.block,
                "repeats": s.repeats,
                "kernel": s.kernel,
                "stride": s.stride,
                "expand": s.expand,
                "channels": s.channels,
                "se": s.se,
            }
            for s in arch.stages
        ],
        "head": {"channels": arch.head.channels},
        "dropout": arch.dropout,
        "drop_path": arch.drop_path,
        "activation": arch.activation,
        "bn_momentum": arch.bn_momentum,
        "bn_eps": arch.bn_eps,
    }
    if metrics is not None:
        out["metrics"] = dict(metrics)
    return out


def dumps_architecture(arch: Architecture, metrics: Mapping[str, Any] | None = None) -> str:
    """Canonical JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(architecture_to_dict(arch, metrics), indent=2, sort_keys=True, allow_nan=False) + "\n"


def architecture_hash(arch: Architecture) -> str:
    """A short content hash of everything that shapes the model (the name is left out).

    Two specs with the same hash build the same network, so measurements may be cached by it.
    """
    fields = architecture_to_dict(arch)
    del fields["name"]
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def read_architecture_file(path: str | Path) -> tuple[Architecture, dict[str, Any]]:
    """Load an architecture JSON file; returns the spec and its ``metrics`` (empty if none)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ArchitectureError("", f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ArchitectureError("", f"{path}: not UTF-8 text") from None
    if len(text) > MAX_FILE_CHARS:
        raise ArchitectureError("", f"{path}: {len(text):,} characters, over the limit of {MAX_FILE_CHARS:,}")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ArchitectureError("", f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, an integer too long, NaN or Infinity
        raise ArchitectureError(
            "", f"{path}: unreadable JSON ({printable(str(exc).splitlines()[0], limit=120)})"
        ) from None
    try:
        arch = architecture_from_dict(data)
    except ArchitectureError as exc:
        raise ArchitectureError(f"{path}: {exc.path}" if exc.path else str(path), exc.message) from None
    return arch, dict(data.get("metrics", {}))


def save_architecture(
    arch: Architecture,
    path: str | Path,
    *,
    metrics: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write canonical JSON; refuses to replace an existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; choose another path or remove it")
    text = dumps_architecture(arch, metrics)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    return path
