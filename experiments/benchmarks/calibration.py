"""How far verification's gap lies from full training's: verified against full, per measured case.

Verification (``nas.search.verify``) retrains the top candidates and every naive network
briefly (by default twice the proxy: 20,000 images x 4 epochs on Fashion-MNIST) and decides
``best.json`` from those runs. Its gap to a naive network is itself a proxy figure. Here
each measured case sets that verified gap beside the gap full training gave the same two
networks (every training image, 10 epochs, 3 seeds; ``found_vs_naive.py``) under each final
recipe (``own``: the architectures' dropout and drop-path; ``plain``: neither), every gap
paired by seed with its 95% t interval (``nas.measure.stats``).

A case's verified gap comes from the search's ``verify.jsonl`` and ``best.json`` (committed
copies), or, for runs whose journal was not kept, from ``best.json``'s ``versus_naive``
(mean, std and seeds of the per-seed differences, its interval rebuilt from them). Only committed files
are read, so the table is rebuilt without training anything:

    python experiments/benchmarks/calibration.py --data experiments/data/calibration_fashion_mnist.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas import journal
from nas.measure.stats import PairedGap, gap_from_summary, paired_gap
from nas.search.verify import NAIVE_NUMBERS, read_verified

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "experiments" / "data"


@dataclass(frozen=True)
class Case:
    """One found network (``row`` of the full-training files) against one naive rule."""

    setting: str
    row: str
    rule: str
    full: dict[str, str]  # recipe -> found_vs_naive results file under experiments/data
    verify: str | None = None  # a folder of experiments/data with verify.jsonl and best.json; None: best.json's figure


OLD_100M = {"own": "found_vs_naive_100m_own_rules.json", "plain": "found_vs_naive_100m_plain.json"}
OLD_25M = {"own": "found_vs_naive_25m_own_rules.json", "plain": "found_vs_naive_25m_plain.json"}
NEW_100M = {"own": "found_vs_naive_100m_budget_space_own.json", "plain": "found_vs_naive_100m_budget_space_plain.json"}
NEW_25M = {"own": "found_vs_naive_25m_budget_space_own.json", "plain": "found_vs_naive_25m_budget_space_plain.json"}
PIPELINE_VERIFY = "pipeline_fashion_mnist"
RANDOM_VERIFY = "found_vs_naive_100m_budget_space_random"
CENTRED = "100M, space centred on the budget"
CENTRED_25M = "25M, space centred on the budget"
FOUND_25M_VERIFY, RANDOM_25M_VERIFY = "found_vs_naive_25m_budget_space_found", "found_vs_naive_25m_budget_space_random"
NATIVE_FILES = {"own": "found_vs_naive_native_own.json", "plain": "found_vs_naive_native_plain.json"}
NATIVE = "native, 2.2M at 32 px"
FOUND_NATIVE_VERIFY, RANDOM_NATIVE_VERIFY = "found_vs_naive_native_found", "found_vs_naive_native_random"
CASES = [
    Case("25M, space around B0's depth (TPE)", "found", "width", OLD_25M),
    Case("100M, space around B0's depth (TPE)", "found", "width", OLD_100M),
    *[Case(f"{CENTRED} (TPE)", "found", rule, NEW_100M, PIPELINE_VERIFY) for rule in NAIVE_NUMBERS],
    *[Case(f"{CENTRED} (random)", "random search", rule, NEW_100M, RANDOM_VERIFY) for rule in NAIVE_NUMBERS],
    *[Case(f"{CENTRED_25M} (TPE)", "found", rule, NEW_25M, FOUND_25M_VERIFY) for rule in NAIVE_NUMBERS],
    *[Case(f"{CENTRED_25M} (random)", "random search", rule, NEW_25M, RANDOM_25M_VERIFY) for rule in NAIVE_NUMBERS],
    *[Case(f"{NATIVE} (TPE)", "found", rule, NATIVE_FILES, FOUND_NATIVE_VERIFY) for rule in NAIVE_NUMBERS],
    *[Case(f"{NATIVE} (random)", "random search", rule, NATIVE_FILES, RANDOM_NATIVE_VERIFY) for rule in NAIVE_NUMBERS],
]


def label_of(rule: str, networks: list[dict[str, Any]]) -> str | None:
    """The results file's label of a naive rule's network at the budget (``width B0 x0.4444``)."""
    return next((n["label"] for n in networks if n.get("naive") and n["label"].startswith(f"{rule} B0")), None)


def full_gap(path: Path, row: str, rule: str) -> PairedGap | None:
    """``row`` minus the rule's naive network in a found_vs_naive results file, paired by seed."""
    if not path.exists():
        return None
    networks = json.loads(path.read_text())["networks"]
    naive = label_of(rule, networks)
    rows = {n["label"]: dict(enumerate(n["test"])) for n in networks}
    if naive is None or row not in rows:
        return None
    return paired_gap(rows[row], rows[naive])


def verified_gap(case: Case) -> PairedGap | None:
    """The verified gap: from the committed ``verify.jsonl``, else from ``best.json``'s figure."""
    if case.verify is not None:
        folder = DATA / case.verify
        if not (folder / "verify.jsonl").exists():
            return None
        done = read_verified(folder)
        trial = int(json.loads((folder / "best.json").read_text())["metrics"]["trial"])
        naive = _naive_number(done, case.rule)
        if trial == naive:  # the search chose this naive network: no gap to measure
            return None
        ours = {seed: r["accuracy"] for (n, seed), r in done.items() if n == trial and r["status"] == "ok"}
        theirs = {seed: r["accuracy"] for (n, seed), r in done.items() if n == naive and r["status"] == "ok"}
        return paired_gap(ours, theirs)
    best = json.loads((DATA / case.full["own"]).read_text())["found_best_json"]["metrics"]["versus_naive"]
    return gap_from_summary(best["points"] / 100, best["std"] / 100, best["seeds"])


def _naive_number(done: dict[tuple[int, int], dict[str, Any]], rule: str) -> int:
    """The rule's network's number in verification: its own negative number, or trial 0 (the
    width rule's network is trial 0 of a fitted search, verified as such when among the top k)."""
    number = NAIVE_NUMBERS[rule]
    return number if any(n == number for n, _ in done) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="also write the table to this JSON file")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    print(f"{'setting':<52} {'network':<14} {'naive':<11} {'verified gap':>34} "
          f"{'full gap, own recipe':>34} {'full gap, plain recipe':>34}")  # fmt: skip
    for case in CASES:
        verified = verified_gap(case)
        full = {recipe: full_gap(DATA / name, case.row, case.rule) for recipe, name in case.full.items()}
        if verified is None or all(g is None for g in full.values()):
            continue
        over = {recipe: verified.mean - g.mean for recipe, g in full.items() if g is not None}
        rows.append({"setting": case.setting, "network": case.row, "naive_rule": case.rule,
                     "verified": verified.as_record(), "full": {r: g and g.as_record() for r, g in full.items()},
                     "overstatement_points": {r: 100 * v for r, v in over.items()}})  # fmt: skip
        cells = [g.text() if g is not None else "not measured" for g in (verified, full["own"], full["plain"])]
        print(f"{case.setting:<52} {case.row:<14} {case.rule:<11} " + " ".join(f"{c:>34}" for c in cells))
    spread = [float(v) for row in rows for v in row["overstatement_points"].values()]
    if spread:
        print(f"\nverified minus full gap over {len(spread)} (case, recipe) pairs: {min(spread):+.2f} to "
              f"{max(spread):+.2f} points, mean {statistics.fmean(spread):+.2f}; within 1 point in "
              f"{sum(abs(v) <= 1 for v in spread)} of {len(spread)}")  # fmt: skip
    if args.data:
        journal.write_data(args.data, {"cases": rows, "overstatement_points": {
            "min": min(spread), "max": max(spread), "mean": statistics.fmean(spread),
            "within_1_point": sum(abs(v) <= 1 for v in spread), "pairs": len(spread)}})  # fmt: skip


if __name__ == "__main__":
    main()
