"""search_vs_random.py end to end on digits: every pick trained in full, paired against random
search, and a second run resumed from the journals without repeating a search or a run."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from nas import journal
from search_spaces import architecture_from_dict, architecture_hash

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "benchmarks" / "search_vs_random.py"


def _run(out: Path) -> subprocess.CompletedProcess[str]:
    args = ["--dataset", "digits", "--budget", "25e6", "--train-size", "300", "--resolution", "8",
            "--trials", "2", "--seeds", "2", "--samplers", "tpe,random", "--eval-seeds", "1", "--threads", "1",
            "--full-epochs", "1", "--full-val-size", "300", "--workers", "1", "--skip-overhead",
            "--out", str(out), "--data", str(out / "data.json")]  # fmt: skip
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_picks_train_in_full_and_a_second_run_repeats_nothing(tmp_path):
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    data = json.loads((tmp_path / "data.json").read_text())
    searches = journal.read(tmp_path / "searches.jsonl")
    assert [(r["sampler"], r["seed"]) for r in searches] == [("tpe", 0), ("random", 0), ("tpe", 1), ("random", 1)]
    full = data["full"]
    assert {r["label"] for r in full["runs"]} == {"tpe", "random", "compound"}
    for record in searches:  # each search's own pick, trained with its search seed, without dropout or drop-path
        arch = architecture_from_dict(record["architecture"])
        run = next(r for r in full["runs"] if r["label"] == record["sampler"] and r["seed"] == record["seed"])
        assert run["hash"] == architecture_hash(dataclasses.replace(arch, dropout=0.0, drop_path=0.0))
    assert full["val"]["tpe"] == [next(r["val"] for r in full["runs"] if r["label"] == "tpe" and r["seed"] == k)
                                  for k in (0, 1)]  # fmt: skip
    assert set(full["versus_random_val"]) == {"tpe"} and set(full["versus_random_test"]) == {"tpe"}
    assert set(full["versus_compound_val"]) == {"tpe", "random"} == set(full["versus_compound_test"])
    gap = full["versus_compound_val"]["random"]  # paired by search seed
    diffs = [a - b for a, b in zip(full["val"]["random"], full["val"]["compound"], strict=True)]
    assert abs(gap["mean"] - sum(diffs) / len(diffs)) < 1e-9
    trained = len(journal.read(tmp_path / "full.jsonl"))
    assert trained <= 6  # two labels that picked one network at one seed share its run

    second = _run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "full training: 0 runs to go" in second.stdout
    assert len(journal.read(tmp_path / "searches.jsonl")) == 4
    assert len(journal.read(tmp_path / "full.jsonl")) == trained
    assert json.loads((tmp_path / "data.json").read_text())["full"]["test"] == full["test"]


def test_a_journalled_search_of_another_setting_is_searched_again(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("benchmarks_search_vs_random", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = argparse.Namespace(budget=25e6, trials=2, minutes=None, dataset="digits", train_size=300, resolution=8,
                              epochs=1, eval_seeds=1, seeds=1)  # fmt: skip
    kept = {"sampler": "tpe", "seed": 0, "setting": module.setting(args), "retrained": 0.5}
    journal.append(tmp_path / module.SEARCHES, kept)
    other = {**kept, "sampler": "random", "setting": {**kept["setting"], "trials": 9}}  # another trial cap
    journal.append(tmp_path / module.SEARCHES, other)
    searched = []
    monkeypatch.setattr(module, "one_search", lambda a, sampler, seed, e: searched.append(sampler) or
                        {"sampler": sampler, "seed": seed, "setting": module.setting(a), "retrained": 0.4})  # fmt: skip
    records = module.run_searches(args, tmp_path, ["tpe", "random"])
    assert searched == ["random"] and records[("tpe", 0)] == kept and records[("random", 0)]["retrained"] == 0.4
