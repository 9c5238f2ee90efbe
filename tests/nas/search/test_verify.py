"""Verification of the top-k: exactly k x seeds runs, best.json by the verified mean, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

import nas.search.verify
from nas.cli import main
from nas.measure.ranking import kendall_tau, spearman_rho
from nas.search.study import load_run
from search_spaces import architecture_from_dict, architecture_hash

VERIFY = {"enabled": True, "top_k": 2, "seeds": 2, "epochs": 1}


def table(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def proxy_top(run_dir: Path, k: int) -> list[int]:
    done = [r for r in table(run_dir) if r["state"] == "COMPLETE"]
    return [int(r["number"]) for r in sorted(done, key=lambda r: (-float(r["reward"]), int(r["number"])))][:k]


def test_verification_retrains_exactly_k_candidates_with_the_seeds(write_spec, capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["search", str(write_spec(verify=VERIFY)), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    runs = [json.loads(line) for line in (out / "verify.jsonl").read_text().splitlines()]
    top = proxy_top(out, 2)
    assert sorted((r["trial"], r["seed"]) for r in runs) == sorted((t, s) for t in top for s in (0, 1))
    assert "[verify 4/4]" in stdout and "0/4 runs done, 4 to run" in stdout
    rows = {int(r["number"]): r for r in table(out)}
    for t in top:
        assert int(rows[t]["verified_runs"]) == 2 and rows[t]["verified_mean"] != ""
    assert all(rows[n]["verified_mean"] == "" for n in rows if n not in top)
    report = (out / "report.md").read_text()
    assert "## Verification (top 2 by proxy reward)" in report and "Kendall tau" in report
    best = json.loads((out / "best.json").read_text())["metrics"]
    means = {t: float(rows[t]["verified_mean"]) for t in top}
    assert best["trial"] == max(means, key=lambda t: (means[t], -t)) and best["verified_runs"] == 2
    # the resolved spec records the recipe
    resolved = yaml.safe_load((out / "spec.yaml").read_text())["verify"]
    assert resolved == {"enabled": True, "top_k": 2, "seeds": 2, "epochs": 1, "train_size": None, "rungs": None,
                        "promote": pytest.approx(1 / 3)}  # fmt: skip


def test_best_follows_the_verified_mean_not_the_proxy(write_spec, capsys, tmp_path, monkeypatch):
    """A stub verifier scores the proxy's best below its runner-up: best.json follows the stub."""
    out = tmp_path / "run"
    assert main(["search", str(write_spec(verify={"enabled": False}, search={"trials": 4})),
                 "--out", str(out)]) == 0  # fmt: skip
    first, second = proxy_top(out, 2)
    assert json.loads((out / "best.json").read_text())["metrics"]["trial"] == first  # by proxy, so far
    _, study = load_run(out)

    def key(number: int) -> str:
        return architecture_hash(architecture_from_dict(study.trials[number].user_attrs["architecture"]))

    verified = {key(first): 0.5, key(second): 0.9}
    calls = []

    def stub(arch, data, spec, seed, rung=0):
        calls.append(seed)
        return verified[architecture_hash(arch)], 0.01, ""

    monkeypatch.setattr(nas.search.verify, "verify_accuracy", stub)
    saved = yaml.safe_load((out / "spec.yaml").read_text())
    saved["verify"] = VERIFY | {"train_size": None}
    (out / "spec.yaml").write_text(yaml.safe_dump(saved))
    assert main(["search", "--resume", "--out", str(out)]) == 0
    assert sorted(calls) == [0, 0, 1, 1]
    best = json.loads((out / "best.json").read_text())["metrics"]
    assert best["trial"] == second and best["verified_accuracy"] == 0.9
    report = (out / "report.md").read_text()
    assert f"best (by mean verified reward): trial {second}" in report
    assert (
        f"| {first} |" in report
        and "| no |" in report
        and "Kendall tau between the proxy and the verified order: -1.00" in report
    )


def test_resume_skips_verified_runs(write_spec, capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["search", str(write_spec(verify=VERIFY)), "--out", str(out)]) == 0
    lines = (out / "verify.jsonl").read_text().splitlines()
    # a kill after one run, in the middle of writing the second
    (out / "verify.jsonl").write_text(lines[0] + "\n" + lines[1][:15])
    capsys.readouterr()
    assert main(["search", "--resume", "--out", str(out)]) == 0
    assert "1/4 runs done, 3 to run" in capsys.readouterr().out
    again = (out / "verify.jsonl").read_text().splitlines()
    assert again[0] == lines[0] and len(again) == 4
    assert {(json.loads(x)["trial"], json.loads(x)["seed"]) for x in again} == {
        (json.loads(x)["trial"], json.loads(x)["seed"]) for x in lines
    }
    assert main(["search", "--resume", "--out", str(out)]) == 0
    assert "4/4 runs done, 0 to run" in capsys.readouterr().out


def test_kendall_tau():
    assert kendall_tau([3, 2, 1], [30, 20, 10]) == 1.0
    assert kendall_tau([3, 2, 1], [10, 20, 30]) == -1.0
    assert kendall_tau([1.0], [2.0]) == 1.0
    assert spearman_rho([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert spearman_rho([1.0], [2.0]) != spearman_rho([1.0], [2.0])  # NaN: no ranking to compare
