"""The ``nas`` command line (DESIGN.md "CLI").

Exit codes: 0 success; 2 bad input (usage, spec, file, data) with one line on stderr and no
traceback; 1 a failure while running.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from search_spaces import (
    ArchitectureError,
    StageCost,
    cost_breakdown,
    dumps_architecture,
    load_architecture_with_metrics,
    preset_names,
    to_timm,
)

__all__ = ["UsageError", "main"]


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of usage text plus message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _write_output(text: str, out: str | None) -> None:
    """Print to stdout, or write a new file; an existing file is never replaced."""
    if out is None:
        sys.stdout.write(text)
        return
    path = Path(out)
    if path.exists():
        raise UsageError(f"--out: {path} already exists; choose another path or remove it")
    if not path.parent.is_dir():
        raise UsageError(f"--out: directory {path.parent} does not exist")
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


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
        from nas.costs import fvcore_flops

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
    """Write an architecture as canonical JSON or as timm ``arch_def`` block strings."""
    arch, metrics = load_architecture_with_metrics(args.arch)
    if args.format == "json":
        text = dumps_architecture(arch, metrics or None)
    else:
        try:
            text = json.dumps(to_timm(arch), indent=2, sort_keys=True) + "\n"
        except ValueError as exc:
            raise UsageError(f"--format timm: {exc}") from None
    _write_output(text, args.out)
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from nas import __version__

    parser = _Parser(prog="nas", description="effnas: EfficientNet-style architecture search and scaling.")
    parser.add_argument("--version", action="version", version=f"effnas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("presets", help="list the shipped architectures")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("info", help="params, FLOPs and the per-stage table of an architecture")
    p.add_argument("arch", metavar="ARCH", help="architecture JSON file or preset name")
    p.add_argument("--resolution", type=_positive_int, help="input size (default: the architecture's own)")
    p.add_argument("--num-classes", type=_positive_int, default=1000, help="classifier outputs (default 1000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--fvcore", action="store_true", help="also count FLOPs by tracing the model with fvcore")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("export", help="write an architecture as JSON or timm block strings")
    p.add_argument("arch", metavar="ARCH", help="architecture JSON file or preset name")
    p.add_argument("--format", required=True, choices=("json", "timm"), help="output format")
    p.add_argument("--out", help="output file (default: stdout); an existing file is not replaced")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except (UsageError, ArchitectureError) as exc:
        print(f"nas: error: {exc}" if not str(exc).startswith("nas") else f"{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a failure while running: one line, no traceback
        print(f"nas: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
