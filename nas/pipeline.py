"""``nas run``: from a budget to trained, reported networks, stage by stage, resumably.

A pipeline directory holds the resolved ``spec.yaml`` and one folder per stage:

1. ``search/``: a ``nas search`` run directory (search, verification, ``final_choice``);
   done when its ``best.json`` exists.
2. ``family/``: the choice compound-scaled to phi = 0..``family.phi`` (P1 §3.3), written
   only when ``family.phi`` > 0; done when ``family.json`` exists (written in one step).
3. ``train/``: every network trained in full, ``final.seeds`` seeds each: the choice, its
   family, and the naive network of the verified strongest rule (every rule when the search
   was not verified) at each member's FLOPs. Each run is a folder ``NAME-seedK`` written in
   one step (metrics, architecture, ``model.safetensors``, ``card.json``); a run whose folder
   exists is done, so a killed stage loses nothing finished and repeats nothing.
4. ``report.md``, ``report.png``, ``results.json``: rebuilt from those folders
   (``nas report DIR`` rebuilds them again).
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.measure.costs import measure_speeds
from nas.measure.stats import paired_gap
from nas.plan import BUDGET_METRICS, RunPlan
from nas.rundir import RunError, create_run_dir, open_run_dir, prepare_run_dir
from nas.training.threads import worker_threads
from nas.training.train import ProgressiveConfig, TrainConfig
from scaling import NAIVE_RULES, scale_to_budget
from scaling.family import compound_family
from search_spaces import Architecture, architecture_hash, count_flops, count_params, load_architecture
from search_spaces.files import OutputDir, staged_folder

__all__ = ["STAGES", "Network", "pipeline_networks", "run_pipeline", "write_pipeline_report"]

STAGES = ("search", "scale", "train")
RESULTS_FORMAT = "effnas.pipeline/1"


@dataclass(frozen=True)
class Network:
    """One network the final stage trains: ``role`` found or naive, its family index, and where it trains."""

    name: str
    role: str
    phi: int
    arch: Architecture
    train_resolution: int
    rule: str | None = None
    progressive: bool = False


def run_pipeline(spec_path: str | None, out: str | None, *, resume: bool, until: str | None = None,
                 log: Callable[[str], None] = print) -> Path:  # fmt: skip
    """Run (or resume) every stage up to ``until``; return the pipeline directory."""
    if until is not None and until not in STAGES:
        raise RunError(f"--until: must be one of {', '.join(STAGES)}, got {until!r}")
    plan, root = prepare_run_dir(spec_path, out, resume=resume)
    if resume and not (root / "search").is_dir() and any(p.name != "spec.yaml" for p in root.iterdir()):
        raise RunError(f"--resume: {root} is not a nas run directory (no search/; a nas search run resumes with "
                       "nas search --resume)")  # fmt: skip
    log(f"pipeline {root}: stages search, scale (family phi 0..{plan.spec.family.phi}), train "
        f"({plan.spec.final.seeds} seeds x {plan.spec.final.epochs} epochs), report")  # fmt: skip
    search_dir = _search(plan, root, log)
    if until == "search":
        return root
    _family(plan, root, search_dir, log)
    if until == "scale":
        return root
    _train(plan, root, log)
    write_pipeline_report(root)
    log(f"wrote {root}/report.md, report.png and results.json")
    return root


# --------------------------------------------------------------------------- stage 1: search


def _search(plan: RunPlan, root: Path, log: Callable[[str], None]) -> Path:
    """The search stage: a ``nas search`` run directory inside the pipeline's."""
    from nas.report import write_reports
    from nas.search.executors import execute_search
    from nas.search.verify import run_verification

    run_dir = root / "search"
    if (run_dir / "best.json").is_file():
        log("search: done (search/best.json)")
        return run_dir
    resuming = (run_dir / "spec.yaml").is_file()
    if not resuming:
        create_run_dir(plan, str(run_dir))
    study = execute_search(plan, run_dir, resume=resuming)
    if plan.spec.verify.enabled:
        run_verification(plan, study, run_dir)
    choice = write_reports(plan, study, run_dir)
    if choice.network is None:
        raise RunError(f"search: no trial completed, so there is nothing to train (see {run_dir}/report.md)")
    log(f"search: done; the choice is {load_architecture(str(run_dir / 'best.json')).name}"
        + (f" (the naive `{choice.strongest}` network won verification)" if choice.naive_wins else ""))  # fmt: skip
    return run_dir


# --------------------------------------------------------------------------- stage 2: family


def _family(plan: RunPlan, root: Path, search_dir: Path, log: Callable[[str], None]) -> None:
    """The scale stage: the choice's compound-scaled family, written in one step."""
    from nas.scale.family_files import write_family

    fam = plan.spec.family
    if fam.phi == 0 or (root / "family" / "family.json").is_file():
        return
    choice = load_architecture(str(search_dir / "best.json"))
    alpha, beta, gamma = fam.coefficients
    members = compound_family(choice, alpha=alpha, beta=beta, gamma=gamma, phi=fam.phi)
    source = {"base": choice.name, "alpha": alpha, "beta": beta, "gamma": gamma}
    with staged_folder(root / "family") as out:
        write_family(members, out, source=source, num_classes=plan.spec.target.num_classes)
    log(f"scale: wrote family/ ({len(members)} members, phi 0..{fam.phi})")


# --------------------------------------------------------------------------- stage 3: train


def pipeline_networks(plan: RunPlan, root: Path) -> list[Network]:
    """The networks of the final stage, each once (by architecture hash): found and naive, per phi."""
    choice = load_architecture(str(root / "search" / "best.json"))
    final_res = plan.spec.final.resolution or plan.train.resolution
    found = [(0, choice)]
    if (root / "family" / "family.json").is_file():
        manifest = json.loads((root / "family" / "family.json").read_text())
        found = [(m["phi"], load_architecture(str(root / "family" / m["file"]))) for m in manifest["members"]]
    t = plan.spec.target
    rules = _naive_rules(plan, root)
    out: list[Network] = []
    seen: set[str] = set()

    def add(net: Network) -> None:
        key = architecture_hash(net.arch)
        if key not in seen:
            seen.add(key)
            out.append(net)

    for phi, arch in found:
        res = max(1, round(final_res * arch.resolution / choice.resolution))
        add(Network(f"found-phi{phi}", "found", phi, arch, res, progressive=plan.spec.final.progressive))
        if plan.spec.final.compare_progressive:  # the same network, trained with progressive learning
            out.append(Network(f"found-phi{phi}-progressive", "progressive", phi, arch, res, progressive=True))
        cost = count_flops(arch, resolution=arch.resolution, num_classes=t.num_classes)
        for rule in rules:
            naive = scale_to_budget(plan.base, cost, rule=rule, resolution=arch.resolution, num_classes=t.num_classes)
            naive_arch = dataclasses.replace(naive.arch, resolution=arch.resolution)
            add(Network(f"naive-{rule}-phi{phi}", "naive", phi, naive_arch, res, rule,
                        progressive=plan.spec.final.progressive))  # fmt: skip
    return out


def _naive_rules(plan: RunPlan, root: Path) -> tuple[str, ...]:
    """The verified strongest naive rule; every rule when the search was not verified; none without a budget."""
    if not (plan.objective.budget is not None and plan.cost_metric in BUDGET_METRICS):
        return ()
    best = json.loads((root / "search" / "best.json").read_text())
    rule = (best.get("metrics") or {}).get("naive_rule") or _strongest_verified(plan, root)
    return (rule,) if rule else tuple(NAIVE_RULES)


def _strongest_verified(plan: RunPlan, root: Path) -> str | None:
    from nas.search.choice import final_choice
    from nas.search.study import load_run

    if not plan.spec.verify.enabled:
        return None
    run_plan, study = load_run(root / "search")
    return final_choice(run_plan, study, root / "search").strongest


def _final_config(plan: RunPlan, net: Network, seed: int) -> TrainConfig:
    progressive = ProgressiveConfig() if net.progressive else None
    return dataclasses.replace(plan.train, epochs=plan.spec.final.epochs, resolution=net.train_resolution, seed=seed,
                               progressive=progressive, threads=None)  # fmt: skip


def _final_arch(plan: RunPlan, net: Network) -> Architecture:
    if plan.spec.final.recipe == "plain":  # recipe (b): no dropout, no drop-path
        return dataclasses.replace(net.arch, dropout=0.0, drop_path=0.0)
    return net.arch


def _train(plan: RunPlan, root: Path, log: Callable[[str], None]) -> None:
    """The train stage: every (network, seed) whose folder does not exist yet."""
    from nas.training.train_pool import train_many

    final = plan.spec.final
    networks = pipeline_networks(plan, root)
    folder = root / "train"
    folder.mkdir(exist_ok=True)
    todo = [(net, seed) for seed in range(final.seeds) for net in networks
            if not (folder / f"{net.name}-seed{seed}" / "metrics.json").is_file()]  # fmt: skip
    total = len(networks) * final.seeds
    log(f"train: {len(networks)} networks x {final.seeds} seeds; {total - len(todo)} done, {len(todo)} to run")
    data = dataclasses.replace(plan.spec.proxy.data, train_size=None)  # every training image
    jobs = [((net.name, seed), _final_arch(plan, net), _final_config(plan, net, seed)) for net, seed in todo]
    outputs = [str(folder / f"{net.name}-seed{seed}") for net, seed in todo]
    results = train_many(jobs, data, data_seed=plan.spec.seed, workers=final.workers,
                         threads=worker_threads(final.workers), evaluate_test=True, outputs=outputs)  # fmt: skip
    for i, ((name, seed), result) in enumerate(results, 1):
        score = f"test {100 * result.test_accuracy:.2f}%" if result.test_accuracy is not None else result.status
        log(f"[{i}/{len(todo)}] {name} seed {seed}: {score} in {result.seconds:.0f} s")
    _speeds(plan, root, networks, log)
    _export(root, log)


def _export(root: Path, log: Callable[[str], None]) -> None:
    """``export/``: the choice's trained weights (seed 0) as ONNX (where onnx is installed) and for timm."""
    from nas.export import trained_model, write_onnx, write_timm
    from search_spaces.weights import load_weights, weights_io

    source = root / "train" / "found-phi0-seed0"
    if (root / "export").exists() or not (source / "model.safetensors").is_file():
        return
    arch = load_architecture(str(source / "architecture.json"))
    state, _ = load_weights(source / "model.safetensors")
    num_classes, in_channels = weights_io(state)
    resolution = json.loads((source / "card.json").read_text())["input"]["resolution"]
    written = []
    with staged_folder(root / "export") as out:
        try:
            write_timm(out.folder("timm"), arch, state, num_classes, in_channels)
            written.append("timm/")
        except ValueError as exc:  # an architecture timm's notation cannot write
            log(f"export: no timm checkpoint ({exc})")
        try:
            import onnx  # noqa: F401  (torch.onnx.export needs it)

            model = trained_model(arch, state, num_classes, in_channels)
            out.write_with("model.onnx", lambda tmp: write_onnx(model, in_channels, resolution, tmp))
            written.append("model.onnx")
        except ImportError:
            log("export: onnx is not installed (pip install 'effnas[export]'), so no model.onnx")
    log(f"export: wrote {', '.join(f'export/{w}' for w in written)} from train/found-phi0-seed0")


def _speeds(plan: RunPlan, root: Path, networks: list[Network], log: Callable[[str], None]) -> None:
    """Each network's measured CPU speed at its training size, one thread
    (``nas.measure.costs.measure_speeds``): batch-1 latency in ``train/latency.json`` and the
    final recipe's training step at its batch size in ``train/step_time.json``."""
    classes, channels = _classes(root, networks)
    known = {name: _measured(root, name) for name in SPEED_FILES.values()}
    todo = [net for net in networks if any(net.name not in k for k in known.values())]
    if not todo:
        return
    for net in todo:
        speeds = measure_speeds(net.arch, resolution=net.train_resolution, num_classes=classes, in_channels=channels,
                                batch_size=plan.train.batch_size)  # fmt: skip
        for key, name in SPEED_FILES.items():
            known[name][net.name] = speeds[key]
    for name, values in known.items():
        OutputDir.existing(root / "train").write(name, json.dumps(values, indent=2, sort_keys=True) + "\n",
                                                replace=True)  # fmt: skip
    log(f"train: measured the batch-1 latency and training step time of {len(todo)} networks "
        f"(train/{', train/'.join(SPEED_FILES.values())})")  # fmt: skip


SPEED_FILES = {"latency_ms": "latency.json", "step_ms": "step_time.json"}
"""Where ``train/`` keeps each measured speed, by network name."""


def _classes(root: Path, networks: list[Network]) -> tuple[int, int]:
    """The classes and input channels the networks were trained with (from a card; 1000 and 3 without one)."""
    for net in networks:
        card = root / "train" / f"{net.name}-seed0" / "card.json"
        if card.is_file():
            c = json.loads(card.read_text())
            return len(c["classes"]), int(c["input"]["channels"])
    return 1000, 3


# --------------------------------------------------------------------------- report


def write_pipeline_report(root: Path) -> dict[str, Any]:
    """``report.md``, ``report.png`` and ``results.json`` of a pipeline directory, from its own files."""
    plan = open_run_dir(root, purpose="search", what="nas report")
    networks = pipeline_networks(plan, root)
    latency, step = (_measured(root, SPEED_FILES[key]) for key in ("latency_ms", "step_ms"))
    t = plan.spec.target
    rows: list[dict[str, Any]] = []
    for net in networks:
        runs = _runs(root, net.name)
        tests = {seed: m["test_accuracy"] for seed, m in runs.items() if m.get("test_accuracy") is not None}
        rows.append({
            "name": net.name, "role": net.role, "phi": net.phi, "rule": net.rule, "architecture": net.arch.name,
            "flops": count_flops(net.arch, resolution=net.arch.resolution, num_classes=t.num_classes),
            "params": count_params(net.arch, num_classes=t.num_classes),
            "train_resolution": net.train_resolution,
            "test": tests, "mean": statistics.fmean(tests.values()) if tests else None,
            "std": statistics.stdev(tests.values()) if len(tests) > 1 else None,
            "seconds": statistics.fmean(m["seconds"] for m in runs.values()) if runs else None,
            "latency_ms": latency.get(net.name),
            "step_ms": step.get(net.name),
            "failed": sorted(seed for seed, m in runs.items() if m.get("status") != "ok"),
        })  # fmt: skip
    gaps = []
    for row in rows:
        if row["role"] not in ("naive", "progressive"):
            continue
        found = next(r for r in rows if r["role"] == "found" and r["phi"] == row["phi"])
        gap = paired_gap(found["test"], row["test"])
        if gap is not None:
            gaps.append({"phi": row["phi"], "naive": row["name"], "role": row["role"], "mean": gap.mean,
                         "low": gap.low, "high": gap.high, "seeds": gap.seeds, "text": gap.text(),
                         "verdict": "found wins" if gap.beats else f"{row['role']} wins" if gap.loses
                         else "not separated",
                         "seconds_ratio": _ratio(row["seconds"], found["seconds"]),
                         "found_over_naive": {k: _ratio(found[k], row[k]) for k in COST_RATIOS}})  # fmt: skip
    final = plan.spec.final
    results = {"format": RESULTS_FORMAT, "name": plan.spec.name, "budget": plan.objective.budget,
               "metric": plan.cost_metric, "recipe": dataclasses.asdict(final), "networks": rows,
               "gaps": gaps}  # fmt: skip
    out = OutputDir.existing(root, what="nas report")
    out.write("results.json", json.dumps(results, indent=2, sort_keys=True, default=_json) + "\n", replace=True)
    out.write("report.md", _markdown(plan, root, rows, gaps), replace=True)
    out.write_with("report.png", lambda tmp: _plot(tmp, rows, plan), replace=True)
    return results


COST_RATIOS = ("flops", "step_ms", "latency_ms")
"""What a found-vs-naive gap sets beside accuracy: the found network's FLOPs and speeds over the naive one's."""


def _measured(root: Path, name: str) -> dict[str, float]:
    """A speed file of ``train/`` by network name (empty when not measured)."""
    path = root / "train" / name
    return json.loads(path.read_text()) if path.is_file() else {}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _runs(root: Path, name: str) -> dict[int, dict[str, Any]]:
    """``{seed: metrics.json}`` of one network's finished runs."""
    out: dict[int, dict[str, Any]] = {}
    for path in sorted((root / "train").glob(f"{name}-seed*/metrics.json")):
        seed = path.parent.name.removeprefix(f"{name}-seed")
        if seed.isdigit():
            out[int(seed)] = json.loads(path.read_text())
    return out


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _markdown(plan: RunPlan, root: Path, rows: list[dict[str, Any]], gaps: list[dict[str, Any]]) -> str:
    final, fam = plan.spec.final, plan.spec.family
    budget = plan.objective.budget
    lines = [f"# {plan.spec.name}: from budget to trained networks", ""]
    if budget is not None:
        lines.append(f"Budget: {budget:,.0f} {plan.cost_metric} at {plan.spec.target.resolution} px, "
                     f"{plan.spec.target.num_classes} classes.")  # fmt: skip
    lines += [
        f"Final training: every training image of `{plan.spec.proxy.data.dataset}`, {final.epochs} epochs at "
        f"{final.resolution or plan.train.resolution} px (family members scale it by gamma^phi), "
        f"recipe `{final.recipe}`{', progressive learning' if final.progressive else ''}, {final.seeds} seeds; "
        "test accuracy, scored once per run.",
        "",
        f"| network | phi | FLOPs | params | test accuracy | seeds | train s | train step ms (batch "
        f"{plan.train.batch_size}, CPU) | latency ms (batch 1, CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        acc = _pct(r["mean"]) + (f" ± {100 * r['std']:.2f}" if r["std"] is not None else "")
        lat, step = ("-" if r.get(k) is None else f"{r[k]:.2f}" for k in ("latency_ms", "step_ms"))
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.0f}"
        lines.append(f"| {r['name']} (`{r['architecture']}`) | {r['phi']} | {r['flops'] / 1e6:.1f}M | "
                     f"{r['params'] / 1e6:.2f}M | {acc} | {len(r['test'])} | {secs} | {step} | {lat} |")  # fmt: skip
    lines += ["", "Speeds are measured on this machine with one CPU thread at each network's training size: "
              "the training step (forward, backward, optimizer step) at the final recipe's batch size, "
              "and a batch-1 forward pass.", ""]  # fmt: skip
    lines += _gap_lines(gaps)
    best = json.loads((root / "search" / "best.json").read_text()).get("metrics") or {}
    if best.get("naive"):
        lines += [f"The search found nothing better than the naive `{best.get('naive_rule')}` network in "
                  "verification, so the choice (found-phi0) is that network.", ""]  # fmt: skip
    card = root / "train" / "found-phi0-seed0" / "card.json"
    if card.is_file():
        c = json.loads(card.read_text())
        lines += ["## The chosen network", "", f"`{c['architecture']['name']}` (hash `{c['architecture_hash']}`): "
                  f"{c['costs']['params']:,} params, {c['costs']['flops']:,} FLOPs at {c['input']['resolution']} px; "
                  f"weights `train/found-phi0-seed0/model.safetensors`, card `train/found-phi0-seed0/card.json`.",
                  ""]  # fmt: skip
    lines += ["## Reproduce", "", "```bash", f"nas run {root}/spec.yaml --out NEW_DIR", f"nas report {root}", "```",
              "", f"Family: phi 0..{fam.phi}, coefficients {list(fam.coefficients)}. Search and verification: "
              "`search/report.md`.", ""]  # fmt: skip
    return "\n".join(lines)


def _gap_lines(gaps: list[dict[str, Any]]) -> list[str]:
    """The report's gaps: found minus each naive network (with the cost ratios), then the
    progressive-vs-fixed gaps with their time ratio."""
    lines: list[str] = []
    naive_gaps = [g for g in gaps if g["role"] == "naive"]
    if naive_gaps:
        lines += ["Found minus naive at the same FLOPs, paired by seed, 95% t interval "
                  "(a win only where the interval excludes 0):", ""]  # fmt: skip
        for g in naive_gaps:
            ratios = ", ".join(f"{label} {g['found_over_naive'][k]:.2f}x" for k, label in
                               (("flops", "FLOPs"), ("step_ms", "train step"), ("latency_ms", "latency"))
                               if g["found_over_naive"].get(k) is not None)  # fmt: skip
            lines.append(f"- phi {g['phi']}, against `{g['naive']}`: {g['text']}: **{g['verdict']}**"
                         + (f"; the found network's {ratios} the naive network's" if ratios else ""))  # fmt: skip
        lines.append("")
    progressive = [g for g in gaps if g["role"] == "progressive"]
    if progressive:
        lines += ["Progressive learning (EfficientNetV2 §4) against fixed-size training of the same network at "
                  "equal epochs: fixed minus progressive test accuracy, paired by seed, and progressive's "
                  "training time over fixed-size's:", ""]  # fmt: skip
        for g in progressive:
            ratio = "-" if g["seconds_ratio"] is None else f"{g['seconds_ratio']:.2f}x the time"
            lines.append(f"- phi {g['phi']}: {g['text']}; progressive takes {ratio}")
        lines.append("")
    return lines


def _plot(path: Path, rows: list[dict[str, Any]], plan: RunPlan) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["mean"] is not None:
            label = {"found": "found", "progressive": "found, progressive learning"}.get(
                r["role"], f"naive ({r['rule']})"
            )
            groups.setdefault(label, []).append(r)
    for label, members in groups.items():
        members.sort(key=lambda r: r["phi"])
        acc = [100 * r["mean"] for r in members]
        err = [100 * (r["std"] or 0.0) for r in members]
        axes[0].errorbar([r["flops"] / 1e6 for r in members], acc, yerr=err, marker="o", capsize=3, label=label)
        if all(r["latency_ms"] is not None for r in members):
            axes[1].errorbar([r["latency_ms"] for r in members], acc, yerr=err, marker="o", capsize=3, label=label)
    axes[0].set_xlabel(f"MFLOPs ({plan.spec.target.num_classes} classes, each network's resolution)")
    axes[1].set_xlabel("latency, ms (batch 1, one CPU thread, at the training size)")
    for ax in axes:
        ax.set_ylabel("test accuracy, %")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{plan.spec.name}: found family against naive scaling ({plan.spec.final.seeds} seeds, ± std)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
