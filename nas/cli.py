"""The ``nas`` command line (docs/cli.md).

Exit codes: 0 success; 2 bad input (usage, spec, file, data) with one line on stderr and no
traceback; 1 a failure while running.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from nas.progress import format_duration
from nas.spec import MAX_INT, MAX_SEED
from nas.training.data import MAX_CLASSES, Dataset
from nas.training.threads import set_process_threads
from nas.training.train import OPTIMIZERS, SCHEDULES, EpochRecord, ProgressiveConfig, TrainConfig
from search_spaces import (
    Architecture,
    ArchitectureError,
    StageCost,
    build_model,
    cost_breakdown,
    count_flops,
    count_params,
    dumps_architecture,
    load_architecture_with_metrics,
    preset_names,
    to_timm,
)
from search_spaces.architecture import MAX_RESOLUTION
from search_spaces.files import OutputDir, OutputError, new_output_file, printable

__all__ = ["UsageError", "main"]


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of usage text plus message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum``), with a one-line error naming the value."""

    def parse(text: str) -> int:
        if len(text.strip().lstrip("+-")) > 30:  # before int(): no 4,300-digit conversions, no overflow later
            raise argparse.ArgumentTypeError(
                f"must be an integer of at most 30 digits, got {printable(text, limit=40)}"
            )
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {printable(repr(text), limit=40)}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum:,}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, MAX_INT)
_non_negative_int = _int_at_least(0, MAX_INT)
_seed = _int_at_least(0, MAX_SEED)
_size = _int_at_least(1, MAX_RESOLUTION)  # image sizes: checked before a model is built at them
_classes = _int_at_least(1, MAX_CLASSES)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _write_output(text: str, out: str | None) -> None:
    """Print to stdout, or write a new file; an existing file is never replaced."""
    if out is None:
        sys.stdout.write(text)
        return
    folder, name = new_output_file(out)
    folder.write(name, text)
    print(f"wrote {out}", file=sys.stderr)


# --------------------------------------------------------------------------- commands


def cmd_presets(args: argparse.Namespace) -> int:
    """List the shipped architectures with their size at their native resolution."""
    from search_spaces import count_flops, count_params, load_architecture

    print(f"{'name':<18} {'resolution':>10} {'params':>10} {'FLOPs':>10}")
    for name in preset_names():
        arch = load_architecture(name)
        params, flops = count_params(arch), count_flops(arch)
        print(f"{name:<18} {arch.resolution:>10} {params / 1e6:>9.2f}M {flops / 1e9:>9.3f}G")
    return 0


def _fmt_count(n: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def _row_fields(row: StageCost) -> dict[str, Any]:
    """One row of the per-stage table as plain values (``None`` where a field does not apply)."""
    stage = row.stage
    if stage is None:  # stem: 3x3 conv, stride 2; head: 1x1 conv then the classifier
        is_stem = row.name == "stem"
        block, repeats, kernel, stride, expand, se = (
            ("conv3x3" if is_stem else "conv1x1+fc"),
            1,
            (3 if is_stem else 1),
            (2 if is_stem else 1),
            None,
            None,
        )
    else:
        block, repeats, kernel = stage.block, stage.repeats, stage.kernel
        stride, expand, se = stage.stride, stage.expand, stage.se
    return {
        "name": row.name, "block": block, "repeats": repeats, "kernel": kernel, "stride": stride,
        "expand": expand, "channels": row.out_channels, "se": se, "out_resolution": row.out_resolution,
        "params": row.params, "flops": row.flops,
    }  # fmt: skip


def cmd_info(args: argparse.Namespace) -> int:
    """Params, FLOPs and the per-stage table of one architecture."""
    arch, _ = load_architecture_with_metrics(args.arch)
    resolution = args.resolution or arch.resolution
    rows = cost_breakdown(arch, resolution=resolution, num_classes=args.num_classes)
    params, flops = sum(r.params for r in rows), sum(r.flops for r in rows)
    fv = None
    if args.fvcore:
        from nas.measure.costs import fvcore_flops

        fv = fvcore_flops(arch, resolution=resolution, num_classes=args.num_classes)
    if args.json:
        out: dict[str, Any] = {
            "name": arch.name,
            "resolution": resolution,
            "num_classes": args.num_classes,
            "params": params,
            "flops": flops,
            "stages": [_row_fields(r) for r in rows],
        }
        if fv is not None:
            out["fvcore_flops"] = fv.flops
            out["fvcore_unexpected_ops"] = fv.unexpected_ops
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    print(f"{arch.name}: {resolution} px, {args.num_classes} classes, activation {arch.activation}")
    keys = ("name", "block", "repeats", "kernel", "stride", "expand", "channels", "se", "out_resolution")
    table: list[tuple[str, ...]] = [("stage", *keys[1:-1], "out_res", "params", "FLOPs")]
    for r in rows:
        f = _row_fields(r)
        f["se"] = f["se"] or None  # no SE prints as "-"
        cells = ["-" if f[k] is None else f"{f[k]:g}" if isinstance(f[k], float) else str(f[k]) for k in keys]
        table.append((*cells, f"{r.params:,}", f"{r.flops:,}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(f"total  params {params:,} ({_fmt_count(params)})  FLOPs {flops:,} ({_fmt_count(flops)} multiply-adds)")
    if fv is not None:
        verdict = "equal" if fv.flops == flops else f"DIFFERENT by {fv.flops - flops:+,}"
        print(f"fvcore FLOPs {fv.flops:,} ({verdict})")
        if fv.unexpected_ops:
            print(f"fvcore saw ops it could not count: {fv.unexpected_ops}")
        if fv.flops != flops:
            return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write an architecture as canonical JSON, timm ``arch_def`` block strings, or ONNX."""
    arch, metrics = load_architecture_with_metrics(args.arch)
    if args.format == "onnx":
        return _export_onnx(arch, args)
    if args.format == "timm" and args.weights:
        return _export_timm_weights(arch, args)
    if args.weights:
        raise UsageError(f"--weights: only used with --format onnx or timm, got --format {args.format}")
    if args.format == "json":
        text = dumps_architecture(arch, metrics or None)
    else:
        try:
            text = json.dumps(to_timm(arch), indent=2, sort_keys=True) + "\n"
        except ValueError as exc:
            raise UsageError(f"--format timm: {exc}") from None
    _write_output(text, args.out)
    return 0


def _export_timm_weights(arch: Architecture, args: argparse.Namespace) -> int:
    """``--format timm --weights W --out DIR``: timm's ``arch_def`` and the weights under timm's names."""
    from nas.export import write_timm

    if args.out is None:
        raise UsageError("--format timm --weights: --out DIR (a new directory) is required")
    try:
        to_timm(arch)
    except ValueError as exc:
        raise UsageError(f"--format timm: {exc}") from None
    state = _load_weights(args.weights)
    num_classes, in_channels = _weights_io(state, args.weights)
    _check_fits(arch, state, args.weights, num_classes, in_channels)
    write_timm(OutputDir.create(args.out), arch, state, num_classes, in_channels)
    print(f"wrote {args.out}/timm.json and model.safetensors ({arch.name}, {num_classes} classes, timm names); "
          "load with search_spaces.timm_weights.build_timm_model, or docs/formats.md")  # fmt: skip
    return 0


def _check_fits(arch: Architecture, state: dict[str, torch.Tensor], path: str, num_classes: int,
                in_channels: int) -> None:  # fmt: skip
    """Refuse weights that are not ``arch``'s, naming the first tensor that differs."""
    model = build_model(arch, num_classes=num_classes, in_channels=in_channels)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:  # not this architecture's weights
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--weights: {path} does not fit {arch.name} ({first})") from None


def _export_onnx(arch: Architecture, args: argparse.Namespace) -> int:
    """The built model (eval mode, freshly initialized or ``--weights``) as an ONNX graph."""
    from nas.export import trained_model, write_onnx

    if args.out is None:
        raise UsageError("--format onnx: --out FILE.onnx is required")
    folder, name = new_output_file(args.out)
    resolution = args.resolution or arch.resolution
    num_classes, in_channels = args.num_classes or 1000, 3
    state = _load_weights(args.weights) if args.weights else None
    if state is not None:  # the trained network's own classes and input channels (nas train on grayscale: 1)
        num_classes, in_channels = _weights_io(state, args.weights)
        if args.num_classes not in (None, num_classes):
            raise UsageError(f"--num-classes: {args.weights} has {num_classes} classes, got {args.num_classes}")
    if state is not None:
        _check_fits(arch, state, args.weights, num_classes, in_channels)
        model = trained_model(arch, state, num_classes, in_channels)
    else:
        model = build_model(arch, num_classes=num_classes, in_channels=in_channels).eval()
    folder.write_with(name, lambda tmp: write_onnx(model, in_channels, resolution, tmp))
    print(f"wrote {args.out} ({arch.name}, input 1x{in_channels}x{resolution}x{resolution}, {num_classes} classes)")
    return 0


def _load_weights(path: str) -> dict[str, torch.Tensor]:
    """``model.safetensors`` (or a legacy ``weights.pt``, read with ``weights_only``: no pickled code runs)."""
    from search_spaces.weights import WeightsError, load_weights

    try:
        return load_weights(path)[0]
    except WeightsError as exc:
        raise UsageError(f"--weights: {exc}") from None


def _weights_io(state: dict[str, torch.Tensor], path: str) -> tuple[int, int]:
    """(classes, input channels) of a trained network's state dict: its classifier rows and stem conv's inputs."""
    from search_spaces.weights import WeightsError, weights_io

    try:
        return weights_io(state)
    except WeightsError as exc:
        raise UsageError(f"--weights: {path} is {exc}") from None


_TRAIN_FLAGS = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "schedule", "resolution", "dropout",
                "randaug", "mixup", "seed", "threads", "device")  # fmt: skip
"""The ``nas train`` flags that are ``TrainConfig`` fields of the same name."""


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The trainer's recipe from the flags (whose defaults are ``TrainConfig``'s and ``ProgressiveConfig``'s)."""
    try:
        progressive = None
        if args.progressive:
            progressive = ProgressiveConfig(
                stages=args.stages,
                min_size=args.min_size,
                max_size=args.max_size,
                dropout=(args.min_dropout, args.max_dropout),
                randaug=(args.min_randaug, args.max_randaug),
                mixup=(args.min_mixup, args.max_mixup),
            )
        return TrainConfig(**{name: getattr(args, name) for name in _TRAIN_FLAGS}, progressive=progressive)
    except ValueError as exc:
        raise UsageError(f"--{str(exc).replace('_', '-').replace('progressive.', '')}") from None


def _precision(dtype: torch.dtype | None) -> str:
    """``float32`` where no autocast runs, else the autocast type (``bfloat16``, ``float16``)."""
    return str(dtype or torch.float32).removeprefix("torch.")


def cmd_train(args: argparse.Namespace) -> int:
    """Train an architecture on a dataset, optionally with progressive learning."""
    from nas.training.card import write_training
    from nas.training.data import DataError, load_dataset, parse_data_arg
    from nas.training.device import DeviceError, amp_dtype, resolve_device
    from nas.training.train import evaluate, train

    arch, _ = load_architecture_with_metrics(args.arch)
    config = _train_config(args)
    try:
        device = resolve_device(config.device)
    except DeviceError as exc:
        raise UsageError(f"--{exc}") from None
    if args.weights and not args.evaluate:
        raise UsageError("--weights: only used with --evaluate (evaluate trained weights on the test split)")
    out = OutputDir.create(args.out) if args.out else None
    try:
        spec = parse_data_arg(args.data, train_size=args.train_size, val_size=args.val_size)
        data = load_dataset(spec, seed=args.seed)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if config.threads:
        set_process_threads(config.threads)
    print(data.describe())
    if args.weights:
        return _evaluate_weights(arch, data, args.weights, config.resolution, evaluate)
    flops = count_flops(arch, resolution=config.resolution, num_classes=data.num_classes,
                        in_channels=data.in_channels)  # fmt: skip
    print(f"{arch.name}: {count_params(arch, num_classes=data.num_classes, in_channels=data.in_channels):,} params, "
          f"{flops:,} FLOPs at {config.resolution} px; {config.epochs} epochs, batch {config.batch_size}, "
          f"{config.optimizer} lr {config.lr:g}; on {device} in {_precision(amp_dtype(device))}")  # fmt: skip
    _print_progressive_schedule(config)
    result = train(arch, data, config, callback=_epoch_printer(config.epochs), evaluate_test=args.evaluate)
    summary = f"{result.status}: val accuracy {100 * result.val_accuracy:.2f}%"
    if result.test_accuracy is not None:
        summary += f", test accuracy {100 * result.test_accuracy:.2f}%"
    print(f"{summary} in {format_duration(result.seconds)}" + (f" ({result.reason})" if result.reason else ""))
    if out is not None:
        write_training(out, arch, data, config, result)
        extra = ", model.safetensors, card.json" if result.status == "ok" else ""
        print(f"wrote {args.out}/metrics.json, architecture.json{extra}")
    return 0 if result.status == "ok" else 1


def _print_progressive_schedule(config: TrainConfig) -> None:
    """The stages of progressive learning, as ``nas train`` prints them before training."""
    from nas.training.train import progressive_schedule

    progressive = config.resolved_progressive()
    if progressive is None:
        return
    print("progressive learning: stage  epochs  size  dropout  randaug  mixup")
    for st in progressive_schedule(progressive, config.epochs):
        print(f"                      {st.stage:>5}  {st.first_epoch + 1:>2}-{st.end_epoch:<3}  {st.size:>4}  "
              f"{st.dropout:>7.3f}  {st.randaug:>7.2f}  {st.mixup:>5.2f}")  # fmt: skip


def _epoch_printer(epochs: int) -> Callable[[EpochRecord], None]:
    """A per-epoch callback that prints one progress line with the time left."""
    started = time.perf_counter()

    def progress(record: EpochRecord) -> None:
        elapsed = time.perf_counter() - started
        left = elapsed / record.epoch * (epochs - record.epoch)
        val = f"val {100 * record.val_accuracy:.2f}%" + (
            f" ({record.eval_resolution}px)" if record.eval_resolution != record.resolution else ""
        )
        print(f"epoch {record.epoch}/{epochs}  {record.resolution}px  loss {record.train_loss:.4f}  "
              f"train {100 * record.train_accuracy:.2f}%  {val}  "
              f"{record.images_per_second:,.0f} img/s  {record.seconds:.1f}s  left {format_duration(left)}",
              flush=True)  # fmt: skip

    return progress


def _evaluate_weights(arch: Architecture, data: Dataset, weights: str, resolution: int,
                      evaluate: Callable[..., tuple[float, float]]) -> int:  # fmt: skip
    """``--evaluate --weights``: test-split accuracy of saved weights."""
    path = Path(weights)
    state = _load_weights(weights)
    model = build_model(arch, num_classes=data.num_classes, in_channels=data.in_channels)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--weights: {path} does not fit {arch.name} on this dataset ({first})") from None
    accuracy, loss = evaluate(model, data, data.test, resolution=resolution)
    print(f"test accuracy {100 * accuracy:.2f}% (loss {loss:.4f}) on {len(data.test)} images at {resolution} px")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Run a search from a YAML spec into a run directory (or resume one)."""
    from nas.report import write_reports
    from nas.rundir import RunError, prepare_run_dir
    from nas.search.executors import execute_search
    from nas.search.study import discard_unstarted
    from nas.search.verify import run_verification
    from nas.spec import SpecError
    from nas.training.data import DataError

    if args.spec is None and not (args.resume and args.out):
        raise UsageError("nas search: SPEC.yaml is required (it may be left out only with --resume --out RUN_DIR)")
    try:
        plan, run_dir = prepare_run_dir(args.spec, args.out, resume=args.resume)
    except (SpecError, RunError) as exc:
        raise UsageError(str(exc)) from None
    if args.threads:
        set_process_threads(args.threads)
    try:
        try:
            study = execute_search(plan, run_dir, resume=args.resume, trials=args.trials)
        except (DataError, RunError):
            if not args.resume:  # a search that failed to start leaves nothing behind: the same command can run again
                discard_unstarted(plan, run_dir)
            raise
        if plan.spec.verify.enabled:
            run_verification(plan, study, run_dir)
    except (DataError, RunError) as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        print(f"interrupted; continue with: nas search {args.spec} --out {run_dir} --resume", file=sys.stderr)
        raise
    choice = write_reports(plan, study, run_dir)
    stored = "".join(f"{f}, " for f in ("study.db", "study.journal") if (run_dir / f).exists())
    print(f"wrote {run_dir}/: spec.yaml, {stored}trials.csv, report.md, report.png, "
          f"pareto/ ({_front_size(run_dir)})" + (", best.json" if choice.network is not None else ""))  # fmt: skip
    for rule, gap in choice.versus.items():
        print(f"verified, best trial against the naive `{rule}` network: {gap.text()}")
    if choice.naive_wins:
        print(f"the search found nothing better than the strongest naive network (`{choice.strongest}`) at this "
              "budget and proxy: best.json is that network")  # fmt: skip
    if choice.network is None:
        print("no trial completed, so there is no best.json", file=sys.stderr)
        return 1
    return 0


def _front_size(run_dir: Path) -> int:
    """How many Pareto members the reports wrote (``pareto/trial-*.json``)."""
    return len(list((run_dir / "pareto").glob("trial-*.json")))


def cmd_worker(args: argparse.Namespace) -> int:
    """Add worker processes to a running search through its shared database (another machine)."""
    from nas.plan import RunPlan
    from nas.rundir import RunError
    from nas.search.executors import join_search
    from nas.spec import SpecError
    from nas.training.data import DataError

    try:
        plan = RunPlan.load(args.spec)
        run_dir = Path(args.out or plan.spec.run_dir)
        join_search(plan, run_dir, workers=args.workers or plan.spec.search.workers, trials=args.trials)
    except (SpecError, DataError, RunError) as exc:
        raise UsageError(str(exc)) from None
    print("done: the search reached its trial count; reports are written by the driver (nas report RUN_DIR)")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """Time every layer configuration of a spec's space on this machine: a cost table for ``target.table``."""
    from nas.measure.cost_table import ProfileSettings, TableError
    from nas.plan import RunPlan
    from nas.profile_run import run_profile
    from nas.rundir import RunError
    from nas.spec import SpecError, read_spec_data, spec_from_dict
    from nas.training.device import DeviceError
    from search_spaces.files import OutputError

    try:
        data = read_spec_data(args.spec)
        if isinstance(data, dict) and isinstance(data.get("target"), dict):
            data["target"].pop("table", None)  # the table being made is not read
        plan = RunPlan.from_spec(spec_from_dict(data))
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    t = plan.spec.target
    mode = args.mode or ("step" if plan.cost_metric == "step_time" else "latency")
    step = mode == "step"
    try:
        settings = ProfileSettings(
            mode=mode,
            batch_size=args.batch_size or (plan.step.batch_size if step else 1),
            threads=args.threads or (plan.step.threads if step else 1),
            device=args.device or (plan.step.device if step else "cpu"),
            warmup=args.warmup,
            repeats=args.repeats,
            resolution=t.resolution,
            num_classes=t.num_classes,
            optimizer=plan.train.optimizer,
        )
        run_profile(plan, args.out, settings, max_entries=args.max_entries, calibrate=args.calibrate)
    except (ValueError, RunError, OutputError, TableError, DeviceError) as exc:
        raise UsageError(f"{exc}") from None
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``nas run``: search, family, final training and report, resumable stage by stage."""
    from nas.pipeline import run_pipeline
    from nas.rundir import RunError
    from nas.spec import SpecError
    from nas.training.data import DataError

    if args.spec is None and not (args.resume and args.out):
        raise UsageError("nas run: SPEC.yaml is required (it may be left out only with --resume --out DIR)")
    try:
        root = run_pipeline(args.spec, args.out, resume=args.resume, until=args.until)
    except (SpecError, RunError, DataError, OutputError) as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        where = args.out or "DIR"
        print(f"interrupted; continue with: nas run --out {where} --resume", file=sys.stderr)
        raise
    if args.until:
        print(f"stopped after stage {args.until}; continue with: nas run --out {root} --resume")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Regenerate the reports of a run directory from its study (or of a ``nas run`` directory)."""
    from nas.report import write_reports
    from nas.rundir import RunError
    from nas.search.study import load_run
    from nas.spec import SpecError

    run_dir = Path(args.run_dir)
    if (run_dir / "search" / "best.json").is_file() and (run_dir / "spec.yaml").is_file():
        from nas.pipeline import write_pipeline_report

        try:
            write_pipeline_report(run_dir)
        except (SpecError, RunError, OutputError) as exc:
            raise UsageError(str(exc)) from None
        print(f"wrote {run_dir}/report.md, report.png and results.json")
        return 0
    try:
        plan, study = load_run(run_dir)
    except (SpecError, RunError) as exc:
        raise UsageError(str(exc)) from None
    choice = write_reports(plan, study, run_dir)
    print(f"wrote {run_dir}/trials.csv, report.md, report.png, pareto/ ({_front_size(run_dir)})"
          + (", best.json" if choice.network is not None else ""))  # fmt: skip
    return 0


def _coefficients(text: str) -> tuple[float, float, float]:
    parts = text.split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"must be three numbers ALPHA,BETA,GAMMA, got {text!r}")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be three numbers ALPHA,BETA,GAMMA, got {text!r}") from None
    for name, value in zip(("alpha", "beta", "gamma"), values, strict=True):
        if not (math.isfinite(value) and value >= 1.0):
            raise argparse.ArgumentTypeError(f"{name} must be >= 1, got {value:g}")
    return values[0], values[1], values[2]


def _scale_grid(args: argparse.Namespace) -> int:
    """``nas scale SPEC.yaml``: the alpha, beta, gamma grid search, then the family."""
    from nas.rundir import RunError, prepare_run_dir
    from nas.scale.run import run_grid
    from nas.spec import SpecError
    from nas.training.data import DataError

    if args.base or args.coefficients or args.table or args.phi is not None:
        raise UsageError("nas scale SPEC.yaml: the base, grid and phi come from the spec (space.base, scale.*)")
    try:
        plan, run_dir = prepare_run_dir(args.spec, args.out, resume=args.resume, purpose="scale")
        best = run_grid(plan, run_dir)
    except (SpecError, RunError, DataError) as exc:
        raise UsageError(str(exc)) from None
    print(f"chosen alpha {best.alpha:g}, beta {best.beta:g}, gamma {best.gamma:g}; "
          f"wrote {run_dir}/grid.jsonl, grid.csv, grid.md and family/")  # fmt: skip
    return 0


def cmd_scale(args: argparse.Namespace) -> int:
    """Emit a compound-scaled family from a base architecture."""
    from nas.scale.family_files import write_family
    from scaling.compound import flops_product
    from scaling.family import compound_family, table_family

    if args.spec is not None:
        return _scale_grid(args)
    if args.resume:
        raise UsageError("--resume: goes with a SPEC.yaml grid search")
    if args.base is None or args.out is None:
        raise UsageError("nas scale: give SPEC.yaml for the grid search, or --base ARCH and --out DIR to emit a family")
    if (args.coefficients is None) == (args.table is None):
        raise UsageError("nas scale: give exactly one of --coefficients ALPHA,BETA,GAMMA or --table efficientnet")
    if args.table is not None and args.phi is not None:
        raise UsageError("--phi: the efficientnet table has fixed members B0-B7; --phi goes with --coefficients")
    base, _ = load_architecture_with_metrics(args.base)
    out = OutputDir.create(args.out)
    if args.coefficients is not None:
        alpha, beta, gamma = args.coefficients
        phi = 7 if args.phi is None else args.phi
        members = compound_family(base, alpha=alpha, beta=beta, gamma=gamma, phi=phi)
        source: dict[str, Any] = {"base": base.name, "alpha": alpha, "beta": beta, "gamma": gamma,
                                  "nominal_flops_ratio": flops_product(alpha, beta, gamma),
                                  "resolution_rounding": "nearest multiple of 8"}  # fmt: skip
    else:
        members = table_family(base)
        source = {"base": base.name, "table": args.table}
    manifest = write_family(members, out, source=source, num_classes=args.num_classes)
    print(f"{'name':<24} {'phi':>3} {'width':>6} {'depth':>6} {'res':>4} {'params':>9} {'FLOPs':>9} {'x prev':>7}")
    for m in manifest["members"]:
        ratio = "-" if m["flops_ratio"] is None else f"{m['flops_ratio']:.3f}"
        print(f"{m['name']:<24} {m['phi']:>3} {m['width']:>6.3f} {m['depth']:>6.3f} {m['resolution']:>4} "
              f"{m['params'] / 1e6:>8.2f}M {m['flops'] / 1e9:>8.3f}G {ratio:>7}")  # fmt: skip
    print(f"wrote {args.out}/family.json, family.png and {len(members)} architecture files")
    return 0


# --------------------------------------------------------------------------- parser


def _add_presets(sub: Any) -> None:
    """``nas presets``."""
    p = sub.add_parser("presets", help="list the shipped architectures")
    p.set_defaults(func=cmd_presets)


def _add_info(sub: Any) -> None:
    """``nas info``."""
    p = sub.add_parser("info", help="params, FLOPs and the per-stage table of an architecture")
    p.add_argument("arch", metavar="ARCH", help="architecture JSON file or preset name")
    p.add_argument("--resolution", type=_size, help="input size (default: the architecture's own)")
    p.add_argument("--num-classes", type=_classes, default=1000, help="classifier outputs (default 1000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--fvcore", action="store_true", help="also count FLOPs by tracing the model with fvcore")
    p.set_defaults(func=cmd_info)


def _add_export(sub: Any) -> None:
    """``nas export``."""
    p = sub.add_parser("export", help="write an architecture as JSON, timm block strings or ONNX")
    p.add_argument("arch", metavar="ARCH", help="architecture JSON file or preset name")
    p.add_argument("--format", required=True, choices=("json", "timm", "onnx"), help="output format")
    p.add_argument("--out", help="output file (default: stdout; required for onnx); never replaces a file")
    p.add_argument("--resolution", type=_size, help="onnx: input size (default: the architecture's own)")
    p.add_argument("--num-classes", type=_classes,
                   help="onnx: classifier outputs (default: the weights' own, else 1000)")  # fmt: skip
    p.add_argument(
        "--weights",
        help="onnx, timm: trained weights (model.safetensors from nas train); "
        "timm then writes a new --out DIR with timm.json and the weights under timm's names",
    )
    p.set_defaults(func=cmd_export)


def _add_search(sub: Any) -> None:
    """``nas search``."""
    p = sub.add_parser("search", help="run an architecture search from a YAML spec")
    p.add_argument("spec", metavar="SPEC.yaml", nargs="?", help="experiment spec (optional with --resume --out)")
    p.add_argument("--out", help="run directory (default: the spec's output.dir, else runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in an existing run directory")
    p.add_argument("--trials", type=_positive_int, help="total finished trials to reach (default: search.trials)")
    p.add_argument("--threads", type=_positive_int, help="torch threads (default: proxy.threads, else torch's)")
    p.set_defaults(func=cmd_search)


def _add_run(sub: Any) -> None:
    """``nas run``."""
    p = sub.add_parser("run", help="search, scale, train and report: from a budget to trained networks")
    p.add_argument("spec", metavar="SPEC.yaml", nargs="?", help="experiment spec (optional with --resume --out)")
    p.add_argument("--out", help="pipeline directory (default: the spec's output.dir, else runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue a pipeline; nothing finished is repeated")
    p.add_argument("--until", choices=("search", "scale", "train"), help="stop after this stage")
    p.set_defaults(func=cmd_run)


def _add_worker(sub: Any) -> None:
    """``nas worker``."""
    p = sub.add_parser("worker", help="add worker processes to a running search through its search.storage database")
    p.add_argument("spec", metavar="SPEC.yaml", help="the same spec as the driver's, with search.storage set")
    p.add_argument("--workers", type=_positive_int, help="worker processes here (default: search.workers)")
    p.add_argument("--out", help="local directory for this machine's step-time cache (default: runs/NAME)")
    p.add_argument("--trials", type=_positive_int, help="total finished trials to reach (default: search.trials)")
    p.set_defaults(func=cmd_worker)


def _add_profile(sub: Any) -> None:
    """``nas profile``."""
    p = sub.add_parser("profile", help="time every layer a spec's space can produce on this machine: a cost table")
    p.add_argument("spec", metavar="SPEC.yaml")
    p.add_argument("--out", required=True, help="the table to write (TABLE.json; never overwritten)")
    p.add_argument(
        "--mode",
        choices=("latency", "step"),
        help="forward latency, or the training step (default: step for a step_time cost, else latency)",
    )
    p.add_argument("--batch-size", type=_positive_int, help="default: 1 for latency, target.step's for step")
    p.add_argument("--threads", type=_positive_int, help="default: 1 for latency, target.step's for step")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: cpu for latency, target.step's for step)")
    p.add_argument("--warmup", type=_non_negative_int, default=3, help="untimed runs before each entry")
    p.add_argument("--repeats", type=_positive_int, default=10, help="timed runs per entry (the median is kept)")
    p.add_argument("--max-entries", type=_positive_int, default=5000, help="refuse a larger space (default 5000)")
    p.add_argument(
        "--calibrate",
        type=_positive_int,
        default=5,
        help="networks (the base and samples) whose measured time calibrates the table's factor",
    )
    p.set_defaults(func=cmd_profile)


def _add_report(sub: Any) -> None:
    """``nas report``."""
    p = sub.add_parser("report", help="regenerate the plots and summary of a run directory")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=cmd_report)


def _add_scale(sub: Any) -> None:
    """``nas scale``."""
    p = sub.add_parser("scale", help="alpha, beta, gamma grid search (SPEC.yaml) and/or model family emission")
    p.add_argument("spec", metavar="SPEC.yaml", nargs="?", help="grid search on the spec's base and proxy")
    p.add_argument("--resume", action="store_true", help="with SPEC.yaml: continue a killed grid search")
    p.add_argument("--base", metavar="ARCH", help="base architecture JSON file or preset name")
    p.add_argument("--coefficients", type=_coefficients, metavar="A,B,G", help="depth, width, resolution (>= 1)")
    p.add_argument("--table", choices=("efficientnet",), help="the published EfficientNet B0-B7 table")
    p.add_argument("--phi", type=_non_negative_int, help="with --coefficients: largest phi (default 7)")
    p.add_argument("--num-classes", type=_classes, default=1000, help="for the manifest's counts (default 1000)")
    p.add_argument("--out", help="new directory for the family (or the grid search's run directory)")
    p.set_defaults(func=cmd_scale)


def _add_progressive_flags(p: argparse.ArgumentParser) -> None:
    """``nas train``'s progressive-learning flags; their defaults are ``ProgressiveConfig``'s (P2 Table 6)."""
    pg = ProgressiveConfig()
    g = p.add_argument_group("progressive learning (EfficientNetV2 §4)")
    g.add_argument("--progressive", action="store_true", help="grow image size and regularization over stages")
    g.add_argument("--stages", type=_positive_int, help="stages (default 4, at most one per epoch)")
    g.add_argument("--min-size", type=_size, help="first-stage image size (default: max-size / 2)")
    g.add_argument("--max-size", type=_size, help="last-stage image size (default: --resolution)")
    g.add_argument("--min-dropout", type=_non_negative_float, default=pg.dropout[0])
    g.add_argument("--max-dropout", type=_non_negative_float, default=pg.dropout[1])
    g.add_argument("--min-randaug", type=_non_negative_float, default=pg.randaug[0])
    g.add_argument("--max-randaug", type=_non_negative_float, default=pg.randaug[1])
    g.add_argument("--min-mixup", type=_non_negative_float, default=pg.mixup[0])
    g.add_argument("--max-mixup", type=_non_negative_float, default=pg.mixup[1])


def _add_train(sub: Any) -> None:
    """``nas train``."""
    p = sub.add_parser("train", help="train an architecture on a dataset (optionally with progressive learning)")
    p.add_argument("arch", metavar="ARCH", help="architecture JSON file or preset name")
    p.add_argument("--data", required=True, help="digits, fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, npz:FILE, "
                   "folder:DIR, synthetic[:classes=N,samples=N,size=N,noise=X], or a path")  # fmt: skip
    p.add_argument("--train-size", type=_positive_int, help="class-balanced subset of the training images")
    p.add_argument("--val-size", type=_non_negative_float, default=0.1, help="validation hold-out (fraction or count)")
    t = TrainConfig()  # the flags' defaults are the trainer's own
    p.add_argument("--resolution", type=_size, default=t.resolution,
                   help=f"training/evaluation size (default {t.resolution})")  # fmt: skip
    p.add_argument("--epochs", type=_positive_int, default=t.epochs)
    p.add_argument("--batch-size", type=_positive_int, default=t.batch_size)
    p.add_argument("--lr", type=_non_negative_float, default=t.lr)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=t.optimizer)
    p.add_argument("--weight-decay", type=_non_negative_float, default=t.weight_decay)
    p.add_argument("--schedule", choices=SCHEDULES, default=t.schedule)
    p.add_argument("--dropout", type=_non_negative_float, help="override the architecture's dropout")
    p.add_argument(
        "--randaug", type=_non_negative_float, default=t.randaug, help="RandAugment magnitude (0-30, 0 = off)"
    )
    p.add_argument("--mixup", type=_non_negative_float, default=t.mixup, help="mixup alpha (0 = off)")
    p.add_argument("--seed", type=_seed, default=t.seed, help="in [0, 2**32 - 1]")
    p.add_argument("--threads", type=_positive_int, help="torch threads (default: torch's)")
    p.add_argument("--device", default=t.device, help="auto (CUDA when a GPU is visible), cpu, cuda or cuda:N; "
                   "mixed precision on CUDA")  # fmt: skip
    _add_progressive_flags(p)
    p.add_argument("--out", help="new directory for metrics.json, architecture.json, model.safetensors and card.json")
    p.add_argument("--evaluate", action="store_true", help="also report test-split accuracy")
    p.add_argument("--weights", help="with --evaluate: evaluate these saved weights instead of training")
    p.set_defaults(func=cmd_train)


def build_parser() -> argparse.ArgumentParser:
    from nas import __version__

    parser = _Parser(prog="nas", description="effnas: EfficientNet-style architecture search and scaling.")
    parser.add_argument("--version", action="version", version=f"effnas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in (
        _add_presets,
        _add_info,
        _add_export,
        _add_search,
        _add_run,
        _add_worker,
        _add_profile,
        _add_report,
        _add_scale,
        _add_train,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except (UsageError, ArchitectureError, OutputError) as exc:
        text = printable(str(exc))
        print(text if text.startswith("nas") else f"nas: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a failure while running: one line, no traceback
        print(f"nas: failed: {type(exc).__name__}: {printable(str(exc))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
