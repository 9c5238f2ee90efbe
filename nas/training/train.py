"""The trainer behind every accuracy in effnas: proxy training, scaling candidates, final models.

``train(arch, data, config)`` trains a freshly built model and returns per-epoch validation
accuracy and loss, the seconds spent and the final metrics. It is deterministic for a fixed
seed and thread count on CPU. A non-finite loss ends the run with ``status="failed"`` and a
reason instead of an exception.

Progressive learning (EfficientNetV2, P2 §4 and Algorithm 1): training is split
into M stages; image size and regularization (dropout, RandAugment magnitude, mixup alpha)
go linearly from their minimum in stage 0 to their maximum in stage M-1, and the weights
carry over from stage to stage.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from nas.training.data import Dataset, Split, batches
from nas.training.device import DEVICE_RULE, DeviceError, amp_dtype, device_problem, resolve_device
from nas.training.threads import torch_threads
from search_spaces import Architecture, build_model, count_params
from search_spaces.architecture import MAX_RESOLUTION

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "EpochRecord",
    "ProgressiveConfig",
    "StageSettings",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "make_optimizer",
    "progressive_schedule",
    "recalibrate_bn",
    "train",
]

OPTIMIZERS = ("adamw", "sgd", "rmsprop")
MAX_EPOCHS = 10_000
MAX_BATCH = 65_536
"""Limits that keep a mistyped number from exhausting memory before training starts."""
SCHEDULES = ("onecycle", "cosine", "constant")


@dataclass(frozen=True)
class ProgressiveConfig:
    """Bounds of progressive learning (EfficientNetV2 §4); each pair is (first stage, last stage).

    Regularization defaults follow EfficientNetV2-S's Table 6 (dropout 0.1 -> 0.3,
    RandAugment 5 -> 15, mixup 0 -> 0); RandAugment magnitudes are on kornia's 0-30 scale.
    ``stages`` left out is 4 (Table 6's schedule has four), or one per epoch in a shorter run.
    ``max_size`` left out is the training resolution, and ``min_size`` half of ``max_size``.
    """

    stages: int | None = None
    min_size: int | None = None
    max_size: int | None = None
    dropout: tuple[float, float] = (0.1, 0.3)
    randaug: tuple[float, float] = (5.0, 15.0)
    mixup: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        for name, high in (("stages", MAX_EPOCHS), ("min_size", MAX_RESOLUTION), ("max_size", MAX_RESOLUTION)):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: must be >= 1, got {value!r}")
            if value is not None and value > high:
                raise ValueError(f"{name}: must be <= {high:,}, got {value!r}")
        for name, limit in (("dropout", 1.0), ("randaug", 30.0), ("mixup", math.inf)):
            bounds = getattr(self, name)
            if len(bounds) != 2 or not all(0 <= b < limit for b in bounds):
                raise ValueError(f"{name}: must be [first, last] in [0, {limit:g}), got {list(bounds)}")

    def resolved(self, *, epochs: int, resolution: int) -> ProgressiveConfig:
        """Every default filled in, for a run of ``epochs`` epochs at ``resolution``."""
        stages = min(4, epochs) if self.stages is None else self.stages
        max_size = resolution if self.max_size is None else self.max_size
        min_size = max(1, max_size // 2) if self.min_size is None else self.min_size
        return dataclasses.replace(self, stages=stages, min_size=min_size, max_size=max_size)


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Defaults are the CPU proxy recipe measured on Fashion-MNIST.

    AdamW at 3e-3 with weight decay 0.05 and a one-cycle schedule: one fixed learning rate
    serves every candidate of a search (SGD collapsed at lr 0.3; reference proxy notes).
    ``resolution`` is the training and evaluation size; with ``progressive`` it is the
    evaluation size of the last stage (earlier stages validate at their own size) and
    training follows the schedule. ``dropout`` and ``drop_path`` (the stochastic-depth rate of
    the last block, ramped linearly over the blocks) override the architecture's: ``0``
    trains without them, as short proxy runs may want. ``bn_recalibrate``: ``auto``
    re-estimates BN statistics on training images at the evaluation size before each
    evaluation when the architecture's BN momentum is below PyTorch's 0.1 (TensorFlow's
    0.99 decay leaves running averages unconverged after a few proxy epochs, and evaluation
    falls to chance), or when the epoch trained at another image size than the evaluation's
    (progressive stages). The default, ``always``, re-estimates before every evaluation:
    after one short epoch the running averages still lag the weights, and a pruner would
    compare BN noise (measured on ``digits``: 20% without, 96% with, after the first epoch).
    ``channels_last`` (NHWC) memory format: on CPU it trains B0 4-5x faster than NCHW,
    whose depthwise convolutions do not speed up at small sizes (measured by
    ``experiments/benchmarks/train_throughput.py``). ``device`` (``nas.training.device``): ``auto``
    trains on CUDA when a GPU is visible, with mixed precision (bfloat16, or float16 with a
    gradient scaler) and batches copied from pinned memory without blocking.
    """

    epochs: int = 3
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.05
    schedule: str = "onecycle"
    resolution: int = 32
    label_smoothing: float = 0.0
    dropout: float | None = None
    drop_path: float | None = None
    randaug: float = 0.0
    mixup: float = 0.0
    seed: int = 0
    threads: int | None = None
    bn_recalibrate: str = "always"
    recalibration_images: int = 1024
    eval_batch_size: int = 512
    channels_last: bool = True
    device: str = "auto"
    progressive: ProgressiveConfig | None = None

    def __post_init__(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its value."""
        checks: list[tuple[str, bool, str]] = [
            ("epochs", self.epochs >= 1, ">= 1"),
            ("epochs", self.epochs <= MAX_EPOCHS, f"<= {MAX_EPOCHS:,}"),
            # BatchNorm needs two images per batch to train (batches are full: drop_last)
            ("batch_size", self.batch_size >= 2, ">= 2 (batch norm needs two images per batch)"),
            ("batch_size", self.batch_size <= MAX_BATCH, f"<= {MAX_BATCH:,}"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            ("lr", self.lr > 0 and math.isfinite(self.lr), "a finite number > 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("schedule", self.schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
            ("resolution", self.resolution >= 1, ">= 1"),
            ("resolution", self.resolution <= MAX_RESOLUTION, f"<= {MAX_RESOLUTION}"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("dropout", self.dropout is None or 0 <= self.dropout < 1, "in [0, 1)"),
            ("drop_path", self.drop_path is None or 0 <= self.drop_path < 1, "in [0, 1)"),
            ("randaug", 0 <= self.randaug < 30, "in [0, 30)"),
            ("mixup", self.mixup >= 0, ">= 0"),
            ("threads", self.threads is None or self.threads >= 1, ">= 1"),
            ("bn_recalibrate", self.bn_recalibrate in ("auto", "always", "never"), "auto, always or never"),
            ("recalibration_images", self.recalibration_images >= 1, ">= 1"),
            ("eval_batch_size", self.eval_batch_size >= 1, ">= 1"),
            ("device", device_problem(self.device) is None, DEVICE_RULE),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"{name}: must be {rule}, got {getattr(self, name)!r}")
        if self.progressive is not None:
            p = self.resolved_progressive()
            assert p is not None and p.stages is not None and p.min_size is not None and p.max_size is not None
            if p.stages > self.epochs:
                raise ValueError(f"progressive.stages: must be in [1, epochs={self.epochs}], got {p.stages}")
            if p.min_size > p.max_size:
                raise ValueError(f"progressive.min_size: must be in [1, max_size={p.max_size}], got {p.min_size}")

    def resolved_progressive(self) -> ProgressiveConfig | None:
        """The progressive schedule's bounds with every default filled in (None: fixed size)."""
        if self.progressive is None:
            return None
        return self.progressive.resolved(epochs=self.epochs, resolution=self.resolution)


@dataclass(frozen=True)
class StageSettings:
    """One stage of progressive learning: its epochs (0-based, end exclusive) and settings."""

    stage: int
    first_epoch: int
    end_epoch: int
    size: int
    dropout: float
    randaug: float
    mixup: float


def progressive_schedule(p: ProgressiveConfig, epochs: int) -> list[StageSettings]:
    """Linear interpolation from the minimum (stage 0) to the maximum (stage M-1).

    ``value_i = min + (max - min) * i / (M - 1)`` (EfficientNetV2 Algorithm 1; the i/(M-1)
    indexing puts the targets exactly on the last stage). Sizes round to the nearest pixel.
    Epochs are shared out evenly; the remainder goes to the last stages.
    """

    if p.stages is None or p.min_size is None or p.max_size is None:
        raise ValueError("progressive_schedule: needs resolved bounds (ProgressiveConfig.resolved)")
    stages, sizes = p.stages, (float(p.min_size), float(p.max_size))

    def lerp(bounds: tuple[float, float], i: int) -> float:
        low, high = bounds
        return low if stages == 1 else low + (high - low) * i / (stages - 1)

    base, extra = divmod(epochs, stages)
    out, start = [], 0
    for i in range(stages):
        n = base + (1 if i >= stages - extra else 0)
        out.append(
            StageSettings(
                stage=i,
                first_epoch=start,
                end_epoch=start + n,
                size=round(lerp(sizes, i)),
                dropout=lerp(p.dropout, i),
                randaug=lerp(p.randaug, i),
                mixup=lerp(p.mixup, i),
            )
        )
        start += n
    return out


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch did; passed to the per-epoch callback."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    images_per_second: float
    resolution: int
    eval_resolution: int
    stage: int


@dataclass
class TrainResult:
    """The outcome of ``train``; ``model`` is the trained network (not serialized)."""

    status: str
    reason: str
    history: list[EpochRecord]
    seconds: float
    params: int
    val_accuracy: float = float("nan")
    val_loss: float = float("nan")
    test_accuracy: float | None = None
    test_loss: float | None = None
    schedule: list[StageSettings] = field(default_factory=list)
    device: str = "cpu"
    precision: str = "float32"
    model: nn.Module | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reason": self.reason,
            "seconds": self.seconds,
            "params": self.params,
            "val_accuracy": self.val_accuracy,
            "val_loss": self.val_loss,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "history": [asdict(r) for r in self.history],
            "schedule": [asdict(s) for s in self.schedule],
            "device": self.device,
            "precision": self.precision,
        }


EpochCallback = Callable[[EpochRecord], None]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer of ``config`` over ``model``'s parameters."""
    # No weight decay on BN parameters and biases (the usual practice; timm, torchvision).
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, foreach=True)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    # RMSProp as in P1 §5.2 (decay 0.9, momentum 0.9; TF epsilon 1e-3).
    return torch.optim.RMSprop(groups, lr=config.lr, alpha=0.9, momentum=0.9, eps=1e-3)


def _scheduler(
    opt: torch.optim.Optimizer, config: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=max(total_steps, 2))
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total_steps, 1))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def _augmenter(magnitude: float, in_channels: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """kornia's RandAugment (two ops) at ``magnitude``; grayscale goes through as 3 equal channels."""
    if magnitude <= 0:
        return None
    from kornia.augmentation.auto import RandAugment

    aug = RandAugment(n=2, m=min(max(round(magnitude), 1), 29))

    def apply(x: torch.Tensor) -> torch.Tensor:
        if in_channels == 1:
            return aug(x.expand(-1, 3, -1, -1)).mean(dim=1, keepdim=True).clamp(0, 1)
        return aug(x).clamp(0, 1)

    return apply


def _set_dropout(model: nn.Module, p: float) -> None:
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p


CPU = torch.device("cpu")


def to_device(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch on ``device``: on CUDA copied from pinned memory without blocking the host."""
    if device.type != "cuda":
        return x, y
    return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)


def _autocast(device: torch.device, precision: torch.dtype | None) -> torch.autocast:
    """Mixed precision on CUDA (``nas.training.device.amp_dtype``); a no-op where ``precision`` is None."""
    return torch.autocast(device_type=device.type, dtype=precision, enabled=precision is not None)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset,
    split: Split,
    *,
    resolution: int,
    batch_size: int = 512,
    memory_format: torch.memory_format = torch.contiguous_format,
    device: torch.device = CPU,
    precision: torch.dtype | None = None,
) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on ``split`` at ``resolution``."""
    model.eval()
    correct, loss, n = 0, 0.0, 0
    for x, y in batches(data, split, batch_size=batch_size, resolution=resolution):
        x, y = to_device(x, y, device)
        with _autocast(device, precision):
            logits = model(data.normalize(x).contiguous(memory_format=memory_format))
        logits = logits.float()
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    return correct / n, loss / n


@torch.no_grad()
def recalibrate_bn(model: nn.Module, data: Dataset, *, resolution: int, batch_size: int, max_batches: int,
                   generator: torch.Generator, memory_format: torch.memory_format = torch.contiguous_format,
                   device: torch.device = CPU, precision: torch.dtype | None = None) -> None:  # fmt: skip
    """Re-estimate BN running statistics as exact averages over training batches (no augmentation)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    for i, (x, y) in enumerate(batches(data, data.train, batch_size=batch_size, resolution=resolution,
                                       shuffle=True, generator=generator)):  # fmt: skip
        if i >= max_batches:
            break
        x, _ = to_device(x, y, device)
        with _autocast(device, precision):
            model(data.normalize(x).contiguous(memory_format=memory_format))
    for m, momentum in zip(bns, saved, strict=True):
        m.momentum = momentum


@dataclass
class _Run:
    """What every epoch of one training run shares."""

    config: TrainConfig
    data: Dataset
    model: nn.Module
    device: torch.device
    precision: torch.dtype | None
    memory_format: torch.memory_format
    generator: torch.Generator
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None


class _Diverged(Exception):
    """A non-finite loss: the run stops and reports it as failed."""


def train(
    arch: Architecture,
    data: Dataset,
    config: TrainConfig,
    *,
    callback: EpochCallback | None = None,
    evaluate_test: bool = False,
    model: nn.Module | None = None,
) -> TrainResult:
    """Train ``arch`` (or the given ``model`` of it) on ``data.train``; validate every epoch.

    ``callback`` runs after each epoch; it may raise (a pruner does) to stop the run. With
    ``config.threads`` set, torch runs on that many threads for the call and the caller's
    count is restored after it.
    """
    with torch_threads(config.threads):
        return _train(arch, data, config, callback=callback, evaluate_test=evaluate_test, model=model)


def _train(arch: Architecture, data: Dataset, config: TrainConfig, *, callback: EpochCallback | None,
           evaluate_test: bool, model: nn.Module | None) -> TrainResult:  # fmt: skip
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    params = count_params(arch, num_classes=data.num_classes, in_channels=data.in_channels)
    try:
        device = resolve_device(config.device)
    except DeviceError as exc:
        return TrainResult("failed", str(exc), [], time.perf_counter() - start, params)
    run = _start(arch, data, config, model, device, generator)
    schedule = _schedule(arch, config)
    result = TrainResult("ok", "", [], 0.0, params, schedule=schedule, model=run.model, device=str(device),
                         precision=str(run.precision or torch.float32).removeprefix("torch."))  # fmt: skip
    try:
        for stage in schedule:
            _set_dropout(run.model, stage.dropout)
            augment = _augmenter(stage.randaug, data.in_channels)
            for epoch in range(stage.first_epoch, stage.end_epoch):
                record = _epoch(
                    run, stage, epoch, augment, last_stage=stage is schedule[-1], slow_bn=arch.bn_momentum < 0.1
                )
                result.history.append(record)
                result.val_accuracy, result.val_loss = record.val_accuracy, record.val_loss
                if not math.isfinite(record.val_loss):
                    raise _Diverged(f"non-finite validation loss ({record.val_loss}) at epoch {epoch + 1}")
                if callback is not None:
                    callback(record)
    except _Diverged as exc:
        result.status, result.reason = "failed", str(exc)
        result.seconds = time.perf_counter() - start
        return result
    if evaluate_test:
        result.test_accuracy, result.test_loss = evaluate(run.model, data, data.test, resolution=config.resolution,
                                                          batch_size=config.eval_batch_size,
                                                          memory_format=run.memory_format, device=device,
                                                          precision=run.precision)  # fmt: skip
    result.seconds = time.perf_counter() - start
    return result


def _start(arch: Architecture, data: Dataset, config: TrainConfig, model: nn.Module | None, device: torch.device,
           generator: torch.Generator) -> _Run:  # fmt: skip
    """The model on its device, with its optimizer, schedule and (for float16) gradient scaler."""
    precision = amp_dtype(device)
    scaler = torch.amp.GradScaler("cuda") if precision == torch.float16 else None
    if model is None:
        if config.drop_path is not None:
            arch = dataclasses.replace(arch, drop_path=config.drop_path)
        model = build_model(arch, num_classes=data.num_classes, in_channels=data.in_channels)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=memory_format)  # type: ignore[call-overload]
    steps_per_epoch = max(1, len(data.train) // config.batch_size)  # full batches only (drop_last)
    opt = make_optimizer(model, config)
    sched = _scheduler(opt, config, steps_per_epoch * config.epochs)
    return _Run(config, data, model, device, precision, memory_format, generator, opt, sched, scaler)


def _schedule(arch: Architecture, config: TrainConfig) -> list[StageSettings]:
    """The run's stages: progressive learning's (EfficientNetV2 §4), or one stage at the fixed settings."""
    if (progressive := config.resolved_progressive()) is not None:
        return progressive_schedule(progressive, config.epochs)
    dropout = arch.dropout if config.dropout is None else config.dropout
    return [StageSettings(0, 0, config.epochs, config.resolution, dropout, config.randaug, config.mixup)]


def _epoch(run: _Run, stage: StageSettings, epoch: int, augment: Callable[[torch.Tensor], torch.Tensor] | None,
           *, last_stage: bool, slow_bn: bool) -> EpochRecord:  # fmt: skip
    """One epoch of training, then BN recalibration (when due) and validation."""
    config, data = run.config, run.data
    t0 = time.perf_counter()
    loss_sum, correct, seen = _train_epoch(run, stage, epoch, augment)
    train_seconds = time.perf_counter() - t0
    # Earlier progressive stages are validated at their own size (a net trained on 16 px
    # images is not yet a 32 px classifier); the last stage at the evaluation size.
    eval_size = config.resolution if last_stage else stage.size
    if config.bn_recalibrate == "always" or (config.bn_recalibrate == "auto" and (slow_bn or stage.size != eval_size)):
        # BN statistics from up to recalibration_images training images, at most a quarter of an epoch
        batches_ = max(1, -(-min(config.recalibration_images, len(data.train) // 4) // config.batch_size))
        recalibrate_bn(run.model, data, resolution=eval_size, batch_size=config.batch_size, max_batches=batches_,
                       generator=run.generator, memory_format=run.memory_format, device=run.device,
                       precision=run.precision)  # fmt: skip
    val_acc, val_loss = evaluate(run.model, data, data.val, resolution=eval_size,
                                 batch_size=config.eval_batch_size, memory_format=run.memory_format,
                                 device=run.device, precision=run.precision)  # fmt: skip
    return EpochRecord(epoch=epoch + 1, train_loss=loss_sum / max(seen, 1), train_accuracy=correct / max(seen, 1),
                       val_loss=val_loss, val_accuracy=val_acc, seconds=time.perf_counter() - t0,
                       images_per_second=seen / train_seconds if train_seconds > 0 else 0.0, resolution=stage.size,
                       eval_resolution=eval_size, stage=stage.stage)  # fmt: skip


def _train_epoch(run: _Run, stage: StageSettings, epoch: int,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None) -> tuple[float, int, int]:  # fmt: skip
    """One pass over the training images: (summed loss, correct, images seen); ``_Diverged`` on a non-finite loss."""
    config, data, model = run.config, run.data, run.model
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for x, y in batches(data, data.train, batch_size=config.batch_size, resolution=stage.size,
                        shuffle=True, generator=run.generator, drop_last=True):  # fmt: skip
        x, y = to_device(x, y, run.device)
        if augment is not None:
            x = augment(x)
        x = data.normalize(x).contiguous(memory_format=run.memory_format)
        with _autocast(run.device, run.precision):
            logits, loss = _forward(run, x, y, stage.mixup)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise _Diverged(f"non-finite training loss ({value}) at epoch {epoch + 1}, step {seen // len(y) + 1}")
        run.opt.zero_grad(set_to_none=True)
        if run.scaler is not None:  # float16: scale the loss so small gradients do not underflow
            run.scaler.scale(loss).backward()
            run.scaler.step(run.opt)
            run.scaler.update()
        else:
            loss.backward()
            run.opt.step()
        run.sched.step()
        loss_sum += value * len(y)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
    return loss_sum, correct, seen


def _forward(run: _Run, x: torch.Tensor, y: torch.Tensor, mixup: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and loss of one batch, with mixup (Zhang et al. 2018) when ``mixup`` > 0."""
    smoothing = run.config.label_smoothing
    if mixup <= 0:
        logits = run.model(x)
        return logits, F.cross_entropy(logits, y, label_smoothing=smoothing)
    lam = float(torch.distributions.Beta(mixup, mixup).sample())
    perm = torch.randperm(len(y), generator=run.generator).to(run.device)
    logits = run.model(lam * x + (1 - lam) * x[perm])
    loss = lam * F.cross_entropy(logits, y, label_smoothing=smoothing) + (1 - lam) * F.cross_entropy(
        logits, y[perm], label_smoothing=smoothing
    )
    return logits, loss
