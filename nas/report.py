"""Run-directory outputs, regenerated from the study at any time (``nas report RUN_DIR``).

``trials.csv`` (one row per trial), ``best.json`` and ``pareto/*.json`` (architecture JSON
with ``metrics``), ``report.png`` (accuracy against cost, the Pareto front, the budget
line) and ``report.md`` (the summary and the top-k table).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import statistics
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.measure.ranking import kendall_tau
from nas.objectives import Record
from nas.plan import RunPlan
from nas.progress import MS_METRICS, plottable
from nas.search.choice import Choice, final_choice
from nas.search.results import pareto_trials, ranked_trials
from nas.search.screen import screen_history
from nas.search.verify import NAIVE_NUMBERS, Verified, read_runs
from search_spaces import architecture_from_record, dumps_architecture
from search_spaces.files import OutputDir

__all__ = ["write_reports"]


def _verified_metrics(v: Verified) -> dict[str, Any]:
    return {
        "verified_mean": v.mean,
        "verified_std": v.std,
        "verified_runs": v.runs,
        "verified_accuracy": v.accuracy_mean,
    }


def _metrics(trial: Record) -> dict[str, Any]:
    a = trial.user_attrs
    out = {"trial": trial.number, "accuracy": a.get("accuracy"), "flops": a.get("flops"), "params": a.get("params"),
           "cost": a.get("cost"), "reward": a.get("reward")}  # fmt: skip
    for key in _MEASURED:
        if key in a:
            out[key] = a[key]
    return out


_MEASURED = ("latency_ms", "step_time", "step_time_iqr", "step_ratio", "param_ratio")


_METRIC_COLUMNS = ("accuracy", "cost", "flops", "params", *_MEASURED, "fit_width", "fit_depth", "cost_before_fit",
                   "reward", "seconds", "train_seconds", "same_as", "warm_start", "screen_score", "screen_seconds",
                   "screen", "cost_source")  # fmt: skip


def screen_summary(plan: RunPlan, trials: list[FrozenTrial]) -> str:
    """The screen's account: how many candidates it scored and screened out, and its own rank
    correlation with the proxy accuracy of those it let train (``nas.search.screen``)."""
    screen = plan.spec.proxy.screen
    assert screen is not None
    history = screen_history(trials)
    out = sum(1 for t in trials if str(t.user_attrs.get("screen", "")).startswith("screened out"))
    stopped = [t.number for t in trials if str(t.user_attrs.get("screen", "")).startswith("screening stopped")]
    seconds = sum(float(t.user_attrs.get("screen_seconds", 0.0)) for t in trials)
    text = (f"screen: `{screen.estimator}` scored {len(history.scores)} candidates in {seconds:.0f} s, screened out "
            f"{out}; Kendall tau between its score and the proxy accuracy of the {len(history.trained)} trained: "
            f"{history.tau():.2f}")  # fmt: skip
    if stopped:
        text += f"; below min_tau {screen.min_tau:g}, so screening stopped at trial {stopped[0]}"
    return text


def _write_trials_csv(out: OutputDir, trials: list[FrozenTrial], choice_names: list[str],
                      verified: dict[int, Verified]) -> None:  # fmt: skip
    columns = ["number", "state", "reason", *_METRIC_COLUMNS, "verified_mean", "verified_std", "verified_runs",
               "worker", *choice_names]  # fmt: skip
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for t in trials:
        a = t.user_attrs
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "reason": a.get("fail_reason") or a.get("skipped") or ("pruned" if t.state.name == "PRUNED" else ""),
            **{k: a.get(k) for k in _METRIC_COLUMNS},
            "verified_mean": verified[t.number].mean if t.number in verified else None,
            "verified_std": verified[t.number].std if t.number in verified else None,
            "verified_runs": verified[t.number].runs if t.number in verified else None,
            "worker": f"{a['worker']['host']}:{a['worker']['pid']}" if isinstance(a.get("worker"), dict) else None,
            **{name: t.params.get(name) for name in choice_names},
        }
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    out.write("trials.csv", text.getvalue(), replace=True)


def _plot(out: OutputDir, plan: RunPlan, trials: list[FrozenTrial], front: list[FrozenTrial],
          best: FrozenTrial | None, verified: dict[int, Verified]) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec, metric = plan.spec, plan.cost_metric
    scale, unit = (1.0, "ms") if metric in MS_METRICS else (1e6, "M")
    trained = [t for t in trials if t.user_attrs.get("accuracy") is not None and t.state.name == "COMPLETE"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if trained:
        ax.scatter([t.user_attrs["cost"] / scale for t in trained], [100 * t.user_attrs["accuracy"] for t in trained],
                   s=18, alpha=0.6, label="trials")  # fmt: skip
    if front:
        ax.plot([t.user_attrs["cost"] / scale for t in front], [100 * t.user_attrs["accuracy"] for t in front],
                "o-", color="tab:orange", label="Pareto front")  # fmt: skip
    if verified:
        shown = [t for t in trials if t.number in verified]
        ax.scatter([t.user_attrs["cost"] / scale for t in shown], [100 * t.user_attrs["accuracy"] for t in shown],
                   s=110, facecolors="none", edgecolors="black", linewidths=1.2,
                   label=f"verified ({len(shown)}; proxy accuracy)")  # fmt: skip
    if best is not None:
        ax.scatter([best.user_attrs["cost"] / scale], [100 * best.user_attrs["accuracy"]], marker="*", s=220,
                   color="tab:red", zorder=5, label=f"best (#{best.number})")  # fmt: skip
    if plan.objective.budget is not None:
        ax.axvline(plan.objective.budget / scale, color="gray", linestyle="--", label="budget")
    ax.set_xlabel(f"{_cost_text(plan)} ({unit})")
    ax.set_ylabel(f"proxy validation accuracy (%), {plan.data.dataset}")
    ax.set_title(plottable(spec.name))
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    out.write_with("report.png", lambda tmp: fig.savefig(tmp, dpi=110, format="png"), replace=True)
    plt.close(fig)


def _fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "acc":
        return f"{100 * value:.2f}%"
    if kind == "M":
        return f"{value / 1e6:.2f}M"
    if kind == "r":
        return f"{value:.4f}"
    if kind == "ms":
        return f"{value:.1f} ms"
    return f"{value:.1f}"


def _verification_lines(plan: RunPlan, verified: dict[int, Verified], search_seconds: float,
                        runs: dict[tuple[int, int, int], dict[str, Any]]) -> list[str]:  # fmt: skip
    """The verification table: proxy score, verified mean +- std, and whether the ranking held,
    and what verification cost: every run of its journal ``runs`` (the naive networks' and every rung's)."""
    if not verified:
        return []
    v, objective = plan.spec.verify, plan.objective
    key = objective.score_key
    rows = sorted(verified.values(), key=lambda r: objective.sort_key(r.proxy, r.cost, r.trial))
    by_verified = sorted(rows, key=lambda r: objective.sort_key(r.mean, r.cost, r.trial))
    tau = kendall_tau([r.proxy for r in rows], [r.mean for r in rows])
    cost = sum(float(r["seconds"]) for r in runs.values())
    naive = " (the naive networks' included)" if any(trial in NAIVE_NUMBERS.values() for trial, _, _ in runs) else ""
    kind = "acc" if key == "accuracy" else "r"
    entered = {trial for trial, _, _ in runs if trial not in NAIVE_NUMBERS.values()}
    ladder = len(plan.verify_ladder) > 1
    last = f", {len(rows)} on the last rung" if ladder else ""
    top = f"top {len(entered) if ladder else len(rows)} by proxy {key}{last}"
    held = f"Kendall tau between the proxy and the verified order: {tau:.2f}." if len(rows) > 1 else ""
    lines = ["", f"## Verification ({top})", "",
             f"Retrained with {v.seeds} seeds, {v.epochs} epochs, {v.train_size or 'all'} training images each"
             + (f" (the last of {len(plan.verify_ladder)} rungs)" if ladder else "") + ". "
             f"Verification cost {cost:.0f} s of training in {len(runs)} runs{naive}, "
             f"reported apart from the search's {search_seconds:.0f} s. {held}".rstrip(),
             "", f"| trial | proxy {key} | proxy rank | verified {key} (mean ± std, runs) | verified rank | held |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for rank, r in enumerate(rows, 1):
        verified_rank = by_verified.index(r) + 1
        lines.append(f"| {r.trial} | {_fmt(r.proxy, kind)} | {rank} | {_fmt(r.mean, kind)} ± {_fmt(r.std, kind)} "
                     f"({r.runs}) | {verified_rank} | {'yes' if rank == verified_rank else 'no'} |")  # fmt: skip
    return lines


def _rung_lines(plan: RunPlan, runs: dict[tuple[int, int, int], dict[str, Any]]) -> list[str]:
    """With verification rungs (successive halving): each network's mean verified score on
    every rung it reached (``runs``: the verification journal), best of the last rung first,
    and what the rungs cost in all."""
    ladder = plan.verify_ladder
    if len(ladder) < 2:
        return []
    key = plan.objective.score_key
    scores: dict[int, dict[int, list[float]]] = {}
    for (trial, _, rung), r in runs.items():
        if r["status"] == "ok" and r.get(key) is not None:
            scores.setdefault(trial, {}).setdefault(rung, []).append(float(r[key]))
    if not scores:
        return []
    names = {number: f"naive ({rule})" for rule, number in NAIVE_NUMBERS.items()}
    kind = "acc" if key == "accuracy" else "r"

    def order(trial: int) -> tuple[int, float]:
        top = max(scores[trial])
        return -top, -statistics.fmean(scores[trial][top])

    lines = ["", f"## Verification rungs (the best {plan.spec.verify.promote:.0%} go on after each)", "",
             "| network | " + " | ".join(f"rung {i + 1}: {r.epochs} epochs, {r.train_size or 'all'} images"
                                       for i, r in enumerate(ladder)) + " |",
             "|---|" + "---|" * len(ladder)]  # fmt: skip
    for trial in sorted(scores, key=order):
        cells = [_fmt(statistics.fmean(scores[trial][i]), kind) if i in scores[trial] else "-"
                 for i in range(len(ladder))]  # fmt: skip
        lines.append(f"| {names.get(trial, f'trial {trial}')} | " + " | ".join(cells) + " |")
    lines += ["", f"The rungs cost {sum(float(r['seconds']) for r in runs.values()):.0f} s of training in all "
              f"(mean verified {key} over seeds)."]  # fmt: skip
    return lines


def _cost_text(plan: RunPlan) -> str:
    """What the cost axis measures, and where."""
    t = plan.spec.target
    if plan.cost_metric == "step_time":
        m = plan.step
        return (f"training step time, batch {m.batch_size} at {m.resolution} px, {t.num_classes} classes, "
                f"{m.device}, {m.threads} thread(s)")  # fmt: skip
    return f"{plan.cost_metric} at {t.resolution} px, {t.num_classes} classes"


def write_reports(plan: RunPlan, study: optuna.Study, run_dir: Path, *, top_k: int = 10) -> Choice:
    """Write every output file of the run directory from the study; returns the run's ``Choice``."""
    out = OutputDir.existing(run_dir, what="run directory")
    trials = study.get_trials(deepcopy=False)
    names: list[str] = []
    for t in trials:
        names.extend(n for n in t.params if n not in names)
    choice = final_choice(plan, study, run_dir)
    verified = choice.results or {}
    _write_trials_csv(out, trials, names, verified)
    if choice.network is not None:
        out.write("best.json", _best_json(choice), replace=True)
    front = pareto_trials(study, plan.objective)
    _write_pareto(out, plan, front)
    _plot(out, plan, trials, front, choice.best, verified)
    lines = _summary_lines(plan, trials, choice)
    lines += _top_lines(plan, ranked_trials(study, plan.objective)[:top_k])
    runs = read_runs(run_dir)
    lines += _verification_lines(plan, verified, sum(t.user_attrs.get("seconds", 0.0) for t in trials), runs)
    lines += _rung_lines(plan, runs)
    lines += ["", f"## Pareto set ({len(front)}, `pareto/`)", "", "| trial | accuracy | cost |", "|---|---|---|"]
    for t in front:
        lines.append(f"| {t.number} | {_fmt(t.user_attrs['accuracy'], 'acc')} | {t.user_attrs['cost']:.6g} |")
    lines += ["", "![accuracy against cost](report.png)", ""]
    out.write("report.md", "\n".join(lines), replace=True)
    return choice


def _best_json(choice: Choice) -> str:
    """``best.json``: the chosen network's architecture with its metrics (and verified runs)."""
    record = choice.network
    assert record is not None
    metrics = _metrics(record)
    if choice.naive_wins:
        metrics["naive"] = True
        metrics["naive_rule"] = choice.strongest
    if choice.verified is not None:
        metrics.update(_verified_metrics(choice.verified))
    if choice.versus_naive is not None:
        metrics["versus_naive"] = choice.versus_naive.as_record()
    return dumps_architecture(architecture_from_record(record.user_attrs["architecture"]), metrics)


def _write_pareto(out: OutputDir, plan: RunPlan, front: list[FrozenTrial]) -> None:
    """``pareto/trial-NNNN.json``: the front's members, replacing the previous set."""
    pareto = out.folder("pareto")
    for old in pareto.root.glob("trial-*.json"):
        old.unlink()
    for t in front:
        arch = dataclasses.replace(architecture_from_record(t.user_attrs["architecture"]),
                                   name=f"{plan.spec.name}-trial-{t.number}")  # fmt: skip
        pareto.write(f"trial-{t.number:04d}.json", dumps_architecture(arch, _metrics(t)))


def wall_seconds(trials: list[FrozenTrial]) -> float:
    """A search's wall time: its first trial's start to its last trial's end (0 without both)."""
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0


def _summary_lines(plan: RunPlan, trials: list[FrozenTrial], choice: Choice) -> list[str]:
    """The report's head: what ran, how long, and what was chosen."""
    spec, objective = plan.spec, plan.objective
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    seconds = sum(t.user_attrs.get("seconds", 0.0) for t in trials)
    train_seconds = sum(t.user_attrs.get("train_seconds", 0.0) for t in trials)
    wall = wall_seconds(trials)
    key, metric, budget = objective.score_key, plan.cost_metric, objective.budget
    lines = [
        f"# {spec.name}",
        "",
        f"- space: `{spec.space.type}` around `{spec.space.base_ref}`; sampler `{spec.search.sampler}`, pruner "
        f"`{spec.search.pruner}`",
        f"- objective: `{spec.objective.type}` ({objective.describe()}); cost: {_cost_text(plan)}"
        + (f"; budget {budget:.6g}" if budget is not None else ""),
        f"- proxy: `{plan.data.dataset}` at {plan.train.resolution} px, {plan.train.epochs} epochs, "
        f"train size {plan.data.train_size or 'all'} (validation accuracy; the test split is not used)",
        f"- trials: {len(trials)} (" + ", ".join(f"{k.lower()} {v}" for k, v in sorted(states.items())) + ")",
        f"- time: {wall:.0f} s wall from first trial start to last trial end; {train_seconds:.0f} s proxy training; "
        f"{seconds:.0f} s in trials",
    ]
    best = choice.best
    if best is not None:
        cost_kind = "ms" if metric in MS_METRICS else "M"
        reward = f", reward {_fmt(best.user_attrs.get('reward'), 'r')}" if key == "reward" else ""
        cost = _fmt(best.user_attrs["cost"], cost_kind)
        accuracy = _fmt(best.user_attrs["accuracy"], "acc")
        lines.append(f"- best ({choice.reason}): trial {best.number}, accuracy {accuracy}, {metric} {cost}{reward}"
                     + ("" if choice.is_naive else " -> `best.json`"))  # fmt: skip
    lines += _naive_lines(choice, key)
    if plan.spec.proxy.screen is not None:
        lines.append(f"- {screen_summary(plan, trials)}")
    return lines


VERIFIED_OVERSTATEMENT = (0.3, 5.2)
"""How far verification's gap to a naive network exceeded full training's gap for the same
two networks, in points, lowest and highest over the measured cases (Fashion-MNIST, 25M,
100M and the native setting, both final recipes: ``experiments/data/calibration_fashion_mnist.json``)."""


def _naive_lines(choice: Choice, key: str) -> list[str]:
    """Each naive network's verified score, the best trial's paired gap to it, and the verdict."""
    lines = []
    for rule, v in choice.naive.items():
        gap = choice.versus.get(rule)
        against = f"; best trial - it: {gap.text()}" if gap is not None and choice.best is not None else ""
        lines.append(f"- naive `{rule}` (B0 scaled to the budget by the {rule} rule): mean verified {key} "
                     f"{_fmt(v.mean, 'r')} ({v.runs} runs){against}")  # fmt: skip
    if choice.naive:
        low, high = VERIFIED_OVERSTATEMENT
        lines.append("- verified gaps are proxy figures (short runs on a subset): in every measured Fashion-MNIST case "
                     f"they exceeded the gap full training left, by {low:+.1f} to {high:+.1f} points "
                     "(experiments/README.md, verified gaps against full training)")  # fmt: skip
    if choice.naive_wins and choice.verified is not None:
        lines.append(f"- the search found nothing better than the strongest naive network (`{choice.strongest}`) "
                     f"at this budget and proxy (mean verified {key} {_fmt(choice.verified.mean, 'r')}) "
                     "-> `best.json`")  # fmt: skip
    return lines


def _top_lines(plan: RunPlan, ranked: list[FrozenTrial]) -> list[str]:
    """The top-k table, best first by the objective's score."""
    steps = any("step_time" in t.user_attrs for t in ranked)
    ratios = any("step_ratio" in t.user_attrs for t in ranked)
    header = ["trial", "accuracy", "FLOPs", "params"] + (["step ms (IQR)"] if steps else []) + (
        ["S", "P"] if ratios else []) + ["reward", "seconds"]  # fmt: skip
    lines = ["", f"## Top {len(ranked)} by {plan.objective.score_key}", "",
             "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]  # fmt: skip
    for t in ranked:
        a = t.user_attrs
        cells = [str(t.number), _fmt(a.get("accuracy"), "acc"), _fmt(a.get("flops"), "M"), _fmt(a.get("params"), "M")]
        if steps:
            cells.append(f"{_fmt(a.get('step_time'), 'ms')} ({_fmt(a.get('step_time_iqr'), 'ms')})")
        if ratios:
            cells += [_fmt(a.get("step_ratio"), "r"), _fmt(a.get("param_ratio"), "r")]
        cells += [_fmt(a.get("reward"), "r"), _fmt(a.get("seconds"), "f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
