"""``nas search``: the run directory, resume after kill -9, the hard constraint, determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from search_spaces import count_flops, count_params, load_architecture

ROOT = Path(__file__).resolve().parents[3]
TINY = str(ROOT / "tests/fixtures/tiny-base.json")


def test_search_writes_the_run_directory(cli, write_spec, trials_csv, capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = cli("search", write_spec(), "--out", out)
    assert code == 0, err
    for name in ("spec.yaml", "study.db", "trials.csv", "best.json", "report.md", "report.png"):
        assert (out / name).is_file(), name
    assert list((out / "pareto").glob("trial-*.json"))
    assert "[4/4]" in stdout and "left" in stdout and "best #" in stdout
    table = trials_csv(out)
    assert len(table) == 4 and {r["state"] for r in table} == {"COMPLETE"}
    assert {"s1.kernel", "s3.width", "accuracy", "flops", "reward", "seconds"} <= set(table[0])
    # best.json loads and builds; its FLOPs equal the recorded metrics and nas info
    best = json.loads((out / "best.json").read_text())
    arch = load_architecture(out / "best.json")
    assert count_flops(arch, num_classes=10) == best["metrics"]["flops"]
    assert best["metrics"]["reward"] == max(float(r["reward"]) for r in table)
    code, info, _ = cli("info", out / "best.json", "--num-classes", "10", "--json")
    assert json.loads(info)["flops"] == best["metrics"]["flops"]
    assert "# s" in (out / "report.md").read_text()
    # the spec is the resolved one, with the sampler pinned
    assert yaml.safe_load((out / "spec.yaml").read_text())["search"]["sampler"] == "tpe"
    # reports regenerate from the study alone
    (out / "report.md").unlink()
    assert cli("report", out)[0] == 0 and (out / "report.md").is_file()
    # ONNX export of the found network runs back through onnxruntime with the same outputs
    ort = pytest.importorskip("onnxruntime")
    import torch

    from search_spaces import build_model

    onnx_path = tmp_path / "best.onnx"
    assert cli("export", out / "best.json", "--format", "onnx", "--out", onnx_path, "--num-classes", 10)[0] == 0
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    model = build_model(arch, num_classes=10).eval()
    exported = ort.InferenceSession(str(onnx_path)).run(None, {"images": x.numpy()})[0]
    assert exported.shape == (2, 10)
    # export builds a fresh model; compare structure by loading the same weights
    onnx_weights = tmp_path / "w.pt"
    torch.save(model.state_dict(), onnx_weights)
    second = tmp_path / "best2.onnx"
    assert cli("export", out / "best.json", "--format", "onnx", "--out", second, "--num-classes", 10,
               "--weights", onnx_weights)[0] == 0  # fmt: skip
    got = ort.InferenceSession(str(second)).run(None, {"images": x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_existing_run_directory_is_refused(cli, write_spec, capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep").write_text("x")
    code, _, err = cli("search", write_spec(), "--out", out)
    assert code == 2 and "already exists" in err and "--resume" in err
    assert (out / "keep").read_text() == "x"


def test_hard_constraint_skips_training_over_budget(cli, write_spec, trials_csv, capsys, tmp_path):
    # Every candidate of this space costs more than 1 kFLOP: none is trained.
    spec = write_spec(objective={"type": "mnas", "mode": "hard"}, target={"flops": 1e3})
    out = tmp_path / "run"
    code, _, err = cli("search", spec, "--out", out, "--trials", "3")
    assert code == 1 and "no trial completed" in err  # nothing trained, so no best.json
    table = trials_csv(out)
    assert [r["state"] for r in table] == ["COMPLETE"] * 3
    assert all(
        r["reason"].startswith("over budget") and r["accuracy"] == "" and r["train_seconds"] == "" for r in table
    )
    assert all(float(r["reward"]) == 0.0 for r in table)


def test_pareto_objective_with_budget_constraint(cli, write_spec, capsys, tmp_path):
    spec = write_spec(objective={"type": "pareto"}, search={"sampler": "nsga2"})
    out = tmp_path / "run"
    assert cli("search", spec, "--out", out)[0] == 0
    study = optuna.load_study(storage=f"sqlite:///{out / 'study.db'}", study_name="s")
    assert len(study.directions) == 2
    for t in study.trials:  # the budget enters as an Optuna constraint: feasible when <= 0
        assert t.constraints == {"budget": pytest.approx(t.user_attrs["flops"] - 400e3)}
    front = json.loads(next((out / "pareto").glob("*.json")).read_text())
    assert front["metrics"]["accuracy"] is not None


def test_same_spec_same_seed_same_sequence(cli, write_spec, trials_csv, capsys, tmp_path):
    spec = write_spec(search={"trials": 5, "pruner": "median"})
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("search", spec, "--out", a)[0] == 0
    assert cli("search", spec, "--out", b)[0] == 0
    drop = ("seconds", "train_seconds")
    ra = [{k: v for k, v in r.items() if k not in drop} for r in trials_csv(a)]
    rb = [{k: v for k, v in r.items() if k not in drop} for r in trials_csv(b)]
    assert ra == rb


def test_failed_trial_is_recorded_and_the_search_goes_on(cli, write_spec, trials_csv, capsys, tmp_path):
    spec = write_spec(proxy={"optimizer": "sgd", "lr": 1e12, "weight_decay": 0.0})
    out = tmp_path / "run"
    code, stdout, _ = cli("search", spec, "--out", out, "--trials", "2")
    table = trials_csv(out)
    assert [r["state"] for r in table] == ["FAIL", "FAIL"]
    assert all("non-finite training loss" in r["reason"] for r in table)
    assert code == 1 and "[2/2]" in stdout


def test_resume_after_kill_9(write_spec, trials_csv, tmp_path):
    # long enough trials (about 4 s) that the poll below sees one running even on a loaded machine
    spec = write_spec(proxy={"epochs": 6, "batch_size": 16, "resolution": 16}, search={"trials": 5})
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "nas", "search", str(spec), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    storage = f"sqlite:///{out / 'study.db'}"
    deadline = time.time() + 300  # generous: a loaded machine trains slowly
    before = None
    try:
        while time.time() < deadline:
            time.sleep(0.2)
            if not (out / "study.db").exists():
                continue
            try:
                trials = optuna.load_study(storage=storage, study_name="s").trials
            except Exception:
                continue
            complete = [t for t in trials if t.state.name == "COMPLETE"]
            running = [t for t in trials if t.state.name == "RUNNING"]
            if len(complete) >= 2 and running:
                before = {t.number: t.params for t in complete}
                time.sleep(0.5)  # well inside the running trial
                break
        assert before is not None, "the search did not reach a running third trial in time"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    trials = optuna.load_study(storage=storage, study_name="s").trials
    assert any(t.state.name == "RUNNING" for t in trials)  # left behind by the dead process

    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "marked 1 interrupted trial(s) as failed" in resumed.stdout
    study = optuna.load_study(storage=storage, study_name="s")
    states = [t.state.name for t in study.trials]
    assert len(study.trials) == 5 and "RUNNING" not in states and states.count("FAIL") == 1
    lost = next(t for t in study.trials if t.state.name == "FAIL")
    assert lost.user_attrs["fail_reason"].startswith("interrupted")
    for number, params in before.items():  # completed trials kept, not re-run
        assert study.trials[number].state.name == "COMPLETE" and study.trials[number].params == params
    assert len(trials_csv(out)) == 5 and (out / "best.json").is_file()
    # resuming a finished run runs nothing more
    again = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 to run" in again.stdout
    assert len(optuna.load_study(storage=storage, study_name="s").trials) == 5


@pytest.mark.parametrize(("budget", "value"), [("params", 20e3), ("latency_ms", 50.0), ("step_time", 100.0)])
def test_other_cost_metrics(cli, write_spec, trials_csv, capsys, tmp_path, budget, value):
    spec = write_spec(target={"flops": None, budget: value}, search={"trials": 2})
    out = tmp_path / "run"
    assert cli("search", spec, "--out", out)[0] == 0
    for row in trials_csv(out):
        assert float(row["cost"]) == float(row[budget]) > 0
    best = json.loads((out / "best.json").read_text())["metrics"]
    assert best["cost"] == best[budget]


STEP = {"batch_size": 4, "resolution": 16, "warmup": 1, "steps": 3}


def test_training_aware_search_end_to_end_and_cache_on_resume(cli, write_spec, trials_csv, capsys, tmp_path):
    spec = write_spec(
        space={"type": "training_aware", "width": None, "layers": [0, 1]},
        target={"flops": None, "step": STEP},
        objective={"type": "training_aware"},
        proxy={"epochs": 2, "resolution": 12, "progressive": {"stages": 2, "min_size": 8}},
        search={"trials": 3, "sampler": "random"},
    )
    out = tmp_path / "run"
    code, stdout, err = cli("search", spec, "--out", out)
    assert code == 0, err
    table = trials_csv(out)
    assert {"step_time", "step_time_iqr", "step_ratio", "param_ratio", "reward"} <= set(table[0])
    base = load_architecture(TINY)
    for row in table:
        acc, s, p = float(row["accuracy"]), float(row["step_ratio"]), float(row["param_ratio"])
        assert float(row["reward"]) == pytest.approx(acc * s**-0.07 * p**-0.05, rel=1e-9)
        assert float(row["cost"]) == float(row["step_time"]) > 0
        assert p == pytest.approx(float(row["params"]) / count_params(base, num_classes=10))
        assert row["s1.block"] in ("mbconv", "fused_mbconv")
    assert "step_time" in stdout and "training step time" not in err
    resolved = yaml.safe_load((out / "spec.yaml").read_text())
    assert resolved["objective"]["w"] == -0.07 and resolved["objective"]["v"] == -0.05
    assert resolved["space"]["block"] == ["mbconv", "fused_mbconv"] and resolved["space"]["width"] is None
    assert resolved["proxy"]["progressive"]["min_size"] == 8  # the proxy trained 8 px, then 12 px
    report = (out / "report.md").read_text()
    assert "A * S^-0.07 * P^-0.05" in report and "| S | P |" in report
    # the base and each distinct candidate were measured once
    cache = out / "step_times.jsonl"
    measured = cache.read_text().splitlines()
    assert len(measured) == 1 + len({tuple(r[k] for k in r if k.startswith("s")) for r in table})
    # resuming to 5 trials measures only the 2 new candidates, not the base nor the first 3 again
    code, _, err = cli("search", "--resume", "--out", out, "--trials", "5")
    assert code == 0, err
    again = cache.read_text().splitlines()
    assert again[: len(measured)] == measured and len(again) <= len(measured) + 2
    assert len(trials_csv(out)) == 5


def test_wall_clock_budget_stops_the_search(cli, write_spec, trials_csv, capsys, tmp_path):
    spec = write_spec(search={"trials": 50, "timeout_minutes": 0.1})  # 6 s: a few trials of about 1 s
    out = tmp_path / "run"
    code, stdout, err = cli("search", spec, "--out", out)
    assert code == 0, err
    assert 1 <= len(trials_csv(out)) < 50 and "left ~0s" in stdout and (out / "best.json").is_file()
