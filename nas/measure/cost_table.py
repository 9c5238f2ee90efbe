"""Cost tables: every layer a search space can produce, timed once on the device that will run it.

``nas profile SPEC.yaml --out TABLE.json`` times, on the machine it runs on, each layer
configuration the spec's space can produce at the target resolution (the stem, every
block's kind, kernel, expansion, SE ratio, input and output channels and stride at the
size its stage sees, and the head with pool and classifier), in one of two modes:

- ``latency``: one forward pass at ``batch_size`` in eval mode (MnasNet's batch-1 latency);
- ``step``: one training step (forward, cross-entropy, backward, AdamW step), as
  ``target.step`` measures a whole network (EfficientNetV2's S).

Each entry is the median of ``repeats`` runs after ``warmup``, timed in three
interleaved passes over all entries (the median of the passes is kept); on CUDA each run
is synchronized before the clock is read. A network's cost is then predicted as the sum of
its layers' entries times one factor, ``scale``: the median ratio of measured to summed
cost over a few calibration networks of the space, the smallest correction of the
additive model (nn-Meter, Zhang et al., MobiSys 2021, also sums per-kernel predictions).
Measured here, layers timed alone overstate a training step inside a network by about
15% (their optimizer steps and calls do not overlap), a constant factor where an additive
constant left 13% of step-time predictions outside +-10%
(``experiments/benchmarks/cost_table.py``). An entry the table lacks is an error naming
it, never a silent zero.

Only configurations the space can produce are timed: channel counts are the space's
width choices after rounding, and, where candidates are fitted to a FLOPs or params
budget, after every fit multiplier the budget allows. ``max_entries`` refuses a space
too large to profile, naming its size. Timing resumes from ``TABLE.json.partial.jsonl``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas import journal
from nas.measure.costs import timed_runs, training_step
from nas.training.device import device_problem, resolve_device
from nas.training.threads import torch_threads
from nas.training.train import OPTIMIZERS
from search_spaces import Architecture, Space, architecture_hash, build_model
from search_spaces.blocks import ConvBNAct
from search_spaces.registry import block_kind

__all__ = [
    "FORMAT",
    "MODES",
    "CostTable",
    "Layer",
    "ProfileSettings",
    "TableError",
    "measure_network",
    "network_layers",
    "space_layers",
    "time_layer",
]

FORMAT = "effnas.cost_table/1"
MODES = ("latency", "step")


class TableError(ValueError):
    """A cost table that cannot be used: malformed, for another space or settings, or missing entries."""


@dataclass(frozen=True)
class ProfileSettings:
    """How entries are timed; a table predicts only for the settings it was measured with."""

    mode: str = "latency"
    batch_size: int = 1
    threads: int = 1
    device: str = "cpu"
    warmup: int = 3
    repeats: int = 10
    resolution: int = 224
    num_classes: int = 1000
    in_channels: int = 3
    optimizer: str = "adamw"

    def __post_init__(self) -> None:
        checks = [
            ("mode", self.mode in MODES, "latency or step"),
            ("batch_size", self.batch_size >= (2 if self.mode == "step" else 1),
             ">= 1 (>= 2 for step: batch norm needs two images)"),
            ("threads", self.threads >= 1, ">= 1"),
            ("device", device_problem(self.device) is None, "auto, cpu, cuda or cuda:N"),
            ("warmup", self.warmup >= 0, ">= 0"),
            ("repeats", self.repeats >= 1, ">= 1"),
            ("resolution", self.resolution >= 1, ">= 1"),
            ("num_classes", self.num_classes >= 1, ">= 1"),
            ("optimizer", self.optimizer in OPTIMIZERS, ", ".join(OPTIMIZERS)),
        ]  # fmt: skip
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"{name}: must be {rule}, got {getattr(self, name)!r}")

    def key(self) -> dict[str, Any]:
        """What a table's predictions depend on (``warmup`` and ``repeats`` only sharpen them)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("warmup", "repeats")}


@dataclass(frozen=True)
class Layer:
    """One timed configuration: ``part`` is stem, block or head; ``size`` the input's side."""

    part: str
    cin: int
    cout: int
    size: int
    kind: str = ""
    kernel: int = 3
    stride: int = 1
    expand: int = 1
    se: float = 0.0

    @property
    def key(self) -> str:
        if self.part == "block":
            return (f"block:{self.kind}:k{self.kernel}:e{self.expand}:se{self.se:g}:s{self.stride}:"
                    f"{self.cin}>{self.cout}@{self.size}")  # fmt: skip
        return f"{self.part}:{self.cin}>{self.cout}@{self.size}"

    def module(self, arch: Architecture, num_classes: int) -> nn.Module:
        """The layer as the builder makes it, with ``arch``'s activation and BN settings."""
        bn, act = (arch.bn_momentum, arch.bn_eps), arch.activation
        if self.part == "stem":
            return ConvBNAct(self.cin, self.cout, kernel=3, stride=2, bn=bn, activation=act)
        if self.part == "head":
            return nn.Sequential(ConvBNAct(self.cin, self.cout, kernel=1, bn=bn, activation=act),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(self.cout, num_classes))  # fmt: skip
        return block_kind(self.kind).module(self.cin, self.cout, kernel=self.kernel, stride=self.stride,
                                            expand=self.expand, se=self.se, activation=act, bn=bn,
                                            drop_path=0.0)  # fmt: skip


def network_layers(arch: Architecture, *, resolution: int, in_channels: int = 3) -> list[Layer]:
    """The layers of ``arch`` at ``resolution``, in order (a padded k x k conv with stride s maps n to ceil(n / s))."""
    size = math.ceil(resolution / 2)
    out = [Layer("stem", in_channels, arch.stem.channels, resolution)]
    channels = arch.stem.channels
    for stage in arch.stages:
        for i in range(stage.repeats):
            stride = stage.stride if i == 0 else 1
            out.append(Layer("block", channels, stage.channels, size, stage.block, stage.kernel, stride,
                             stage.expand, stage.se))  # fmt: skip
            channels, size = stage.channels, math.ceil(size / stride)
    out.append(Layer("head", channels, arch.head.channels, size))
    return out


def _runner(model: nn.Module, x: torch.Tensor, settings: ProfileSettings, *, classifier: bool) -> Callable[[], None]:
    """One timed call of ``model`` on ``x``: a forward pass, or the training step of ``nas.measure.costs``."""
    if settings.mode == "step":
        return training_step(model, x, num_classes=settings.num_classes, optimizer=settings.optimizer,
                             classifier=classifier)  # fmt: skip
    model.eval()

    def forward() -> None:
        with torch.no_grad():
            model(x)

    return forward


def time_layer(layer: Layer, arch: Architecture, settings: ProfileSettings) -> float:
    """Median milliseconds of one ``layer`` under ``settings`` (channels-last, seeded random input)."""
    device = resolve_device(settings.device)
    with torch_threads(settings.threads):
        torch.manual_seed(0)
        model = layer.module(arch, settings.num_classes).to(device=device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = torch.randn(settings.batch_size, layer.cin, layer.size, layer.size, device=device)
        x = x.contiguous(memory_format=torch.channels_last)
        if settings.mode == "step" and layer.part != "stem":
            x.requires_grad_(True)  # inside a network, every layer but the stem passes a gradient back
        run = _runner(model, x, settings, classifier=layer.part == "head")
        return statistics.median(timed_runs(run, device, settings.warmup, settings.repeats))


def measure_network(arch: Architecture, settings: ProfileSettings) -> float:
    """Median milliseconds of the whole network under ``settings``: what a table predicts."""
    device = resolve_device(settings.device)
    with torch_threads(settings.threads):
        torch.manual_seed(0)
        model = build_model(arch, num_classes=settings.num_classes, in_channels=settings.in_channels)
        model = model.to(device=device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = torch.randn(settings.batch_size, settings.in_channels, settings.resolution, settings.resolution,
                        device=device).contiguous(memory_format=torch.channels_last)  # fmt: skip
        run = _runner(model, x, settings, classifier=True)
        return statistics.median(timed_runs(run, device, settings.warmup, settings.repeats))


@dataclass(frozen=True)
class CostTable:
    """Entries by layer key, the calibrated factor, and what the table was measured for."""

    settings: ProfileSettings
    entries: dict[str, float]
    scale: float
    base: dict[str, Any]
    device_name: str = ""
    versions: dict[str, str] = dataclasses.field(default_factory=dict)

    def predict(self, arch: Architecture) -> float:
        """Predicted milliseconds of ``arch``: the sum of its layers' entries times ``scale``.

        Raises ``TableError`` naming the entries the table lacks.
        """
        keys = [layer.key for layer in network_layers(arch, resolution=self.settings.resolution,
                                                      in_channels=self.settings.in_channels)]  # fmt: skip
        missing = sorted({k for k in keys if k not in self.entries})
        if missing:
            raise TableError(f"the cost table lacks {len(missing)} entr{'y' if len(missing) == 1 else 'ies'} of "
                             f"{arch.name}, such as {missing[0]} (profile this space with nas profile)")  # fmt: skip
        return self.scale * sum(self.entries[k] for k in keys)

    def check(self, base: Architecture, keys: set[str], settings: dict[str, Any]) -> None:
        """Raise ``TableError`` if the table was measured for other settings, another base
        (activation, BN) or lacks any of ``keys`` (every layer the space can produce)."""
        mine = self.settings.key()
        for name, value in settings.items():
            if mine.get(name) != value:
                raise TableError(f"the cost table was measured with {name} {mine.get(name)!r}; this search needs "
                                 f"{value!r}")  # fmt: skip
        own = {"activation": base.activation, "bn_eps": base.bn_eps, "bn_momentum": base.bn_momentum}
        for name, value in own.items():
            if self.base.get(name) != value:
                raise TableError(f"the cost table is for another space: its base has {name} "
                                 f"{self.base.get(name)!r}, this space's {value!r}")  # fmt: skip
        missing = sorted(keys - set(self.entries))
        if missing:
            raise TableError(f"the cost table is for another space: it lacks {len(missing)} of the {len(keys)} "
                             f"layers this space can produce, such as {missing[0]}")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "settings": dataclasses.asdict(self.settings), "device": self.device_name,
                "versions": self.versions, "base": self.base, "scale": self.scale,
                "entries": dict(sorted(self.entries.items()))}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "cost table") -> CostTable:
        """Validate a table read from JSON; ``TableError`` names the first thing wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise TableError(f"{source}: not a cost table (format must be {FORMAT!r})")
        try:
            settings = ProfileSettings(**data["settings"])
            entries = {str(k): float(v) for k, v in data["entries"].items()}
            scale = float(data["scale"])
            base = dict(data["base"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TableError(f"{source}: malformed cost table ({type(exc).__name__}: {exc})") from None
        bad = [k for k, v in entries.items() if not (math.isfinite(v) and v >= 0)]
        if bad:
            raise TableError(f"{source}: malformed cost table (entry {bad[0]} is not a finite time >= 0)")
        if not (math.isfinite(scale) and scale > 0):
            raise TableError(f"{source}: malformed cost table (scale must be a finite number > 0, got {scale!r})")
        return cls(settings, entries, scale, base, str(data.get("device", "")), dict(data.get("versions", {})))

    @classmethod
    def load(cls, path: str | Path) -> CostTable:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise TableError(f"{p}: cannot be read ({exc.strerror or exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TableError(f"{p}: malformed cost table (not JSON: {exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data, source=str(p))


def versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__}


def device_name(settings: ProfileSettings) -> str:
    device = resolve_device(settings.device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads available"


def profile(
    layers: dict[str, Layer],
    calibration: list[Architecture],
    settings: ProfileSettings,
    base: Architecture,
    partial: Path,
    *,
    passes: int = 3,
    log: Callable[[str], None] = print,
) -> CostTable:
    """Time every layer (built with ``base``'s activation and BN) in ``passes`` interleaved
    passes (each entry is the median over the passes of each pass's median), resuming from
    the ``partial`` journal; then calibrate the factor. Interleaving spreads a machine's slow
    drift (clock, neighbours) over every entry instead of letting it fall on the few timed
    while it lasts."""
    header = {"settings": settings.key()}
    records = journal.read(partial)
    if records and records[0] != header:
        raise TableError(f"{partial}: an interrupted profile with other settings; remove it to start again")
    if not records:
        journal.append(partial, header)
    done: dict[tuple[str, int], float] = {(str(r["key"]), int(r.get("pass", 0))): float(r["ms"])
                                          for r in records[1:] if "key" in r}  # fmt: skip
    todo = [(key, p) for p in range(passes) for key in layers if (key, p) not in done]
    log(f"{len(layers)} layer configurations x {passes} passes, {len(done)} already timed, {len(todo)} to time")
    started = time.perf_counter()
    for i, (key, p) in enumerate(todo):
        ms = time_layer(layers[key], base, settings)
        journal.append(partial, {"key": key, "pass": p, "ms": ms})
        done[(key, p)] = ms
        if (i + 1) % 100 == 0 or i + 1 == len(todo):
            left = (time.perf_counter() - started) / (i + 1) * (len(todo) - i - 1)
            log(f"[{i + 1}/{len(todo)}] pass {p + 1}: {key}: {ms:.3f} ms; about {left:.0f} s left")
    entries = {key: statistics.median(done[(key, p)] for p in range(passes)) for key in layers}
    table = CostTable(settings, entries, 1.0, {"name": base.name, "activation": base.activation,
                                               "bn_eps": base.bn_eps, "bn_momentum": base.bn_momentum},
                      device_name(settings), versions())  # fmt: skip
    ratios = [measure_network(a, settings) / table.predict(a) for a in calibration]
    scale = statistics.median(ratios)
    log(f"scale: measured over summed for {len(ratios)} calibration networks: "
        + ", ".join(f"{r:.3f}" for r in ratios) + f"; median {scale:.3f}")  # fmt: skip
    return dataclasses.replace(table, scale=scale)


def space_layers(space: Space, *, resolution: int, multipliers: list[float] | None,
                 in_channels: int = 3) -> dict[str, Layer]:  # fmt: skip
    """Every layer configuration ``space`` can produce at ``resolution``, by key.

    Channels come from the space's own decoding of each width choice (``space.decode``) and,
    where candidates are fitted, from ``scaling.scale`` at each of ``multipliers``: a
    stage's input and output widths always share one fit multiplier, so only the pairs one
    network can hold are listed. Kernels, expansions, SE ratios and block kinds are the
    space's choices; repeated blocks (stride 1, input = output) where a stage may have
    more than one layer.
    """
    base = space.base
    sizes, size = [], math.ceil(resolution / 2)
    for stage in base.stages:
        sizes.append(size)
        size = math.ceil(size / stage.stride)
    last = math.ceil(sizes[-1] / base.stages[-1].stride)
    out: dict[str, Layer] = {}
    for archs in _width_variants(space, multipliers).values():
        for a in archs:
            stem = Layer("stem", in_channels, a.stem.channels, resolution)
            out.setdefault(stem.key, stem)
        for i in range(1, len(base.stages) + 1):
            for layer in _stage_layers(space, i, archs, sizes[i - 1]):
                out.setdefault(layer.key, layer)
        for a in archs:
            for b in archs:
                layer = Layer("head", a.stages[-1].channels, b.head.channels, last)
                out.setdefault(layer.key, layer)
    return out


def _width_variants(space: Space, multipliers: list[float] | None) -> dict[float, list[Architecture]]:
    """Per fit multiplier, networks that hold every stage, stem and head width the space offers.

    A part's channels depend only on its own choice (and the fit), so zipping the choice
    lists covers every width with max(len) networks per multiplier.
    """
    from scaling import scale

    choices = space.choices()
    uniform = {name: values[0] for name, values in choices.items()}
    widths = choices.get("s1.width", [None])
    stems, heads = choices.get("stem.width", [None]), choices.get("head.width", [None])

    def decoded(width: float | None, stem: float | None, head: float | None) -> Architecture:
        params = dict(uniform)
        for name in choices:
            if name.endswith(".width") and name.startswith("s") and width is not None:
                params[name] = width
        if stem is not None:
            params["stem.width"] = stem
        if head is not None:
            params["head.width"] = head
        return space.decode(params)

    count = max(len(widths), len(stems), len(heads))
    unfitted = [decoded(widths[j % len(widths)], stems[j % len(stems)], heads[j % len(heads)]) for j in range(count)]
    unfitted = list({architecture_hash(a): a for a in unfitted}.values())
    return {w: [a if multipliers is None else scale(a, width=w) for a in unfitted] for w in multipliers or [1.0]}


def _stage_layers(space: Space, i: int, archs: list[Architecture], size: int) -> list[Layer]:
    """Stage ``i``'s block configurations (1-based) over its kinds, kernels, expansions and SE
    ratios, for the widths ``archs`` hold: the strided first block, and the repeated ones."""
    choices, stage = space.choices(), space.base.stages[i - 1]
    ins = {a.stem.channels if i == 1 else a.stages[i - 2].channels for a in archs}
    outs = {a.stages[i - 1].channels for a in archs}
    deeper = max(choices.get(f"s{i}.layers", [stage.repeats])) > 1
    after = math.ceil(size / stage.stride)
    layers = []
    for kind in choices.get(f"s{i}.block", [stage.block]):
        ses = choices.get(f"s{i}.se", [stage.se]) if block_kind(kind).takes_se else [0.0]
        for k, e, se in itertools.product(choices[f"s{i}.kernel"], choices[f"s{i}.expand"], ses):
            layers += [Layer("block", cin, cout, size, kind, k, stage.stride, e, se) for cin in ins for cout in outs]
            layers += [Layer("block", cout, cout, after, kind, k, 1, e, se) for cout in (outs if deeper else ())]
    return layers


def calibration_networks(sample: Callable[[random.Random], Architecture], base: Architecture | None,
                         count: int = 3) -> list[Architecture]:  # fmt: skip
    """``count`` networks of the space where the factor is calibrated: the base where it is a
    point of the space, then seeded samples."""
    rng = random.Random(0)
    first = [] if base is None else [base]
    return [*first, *(sample(rng) for _ in range(count - len(first)))]
