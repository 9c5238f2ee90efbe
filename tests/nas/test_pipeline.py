"""``nas run``: search, family, final training and report in one command; killed and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from search_spaces import build_model, load_architecture
from search_spaces.weights import load_weights

FINAL = {"epochs": 1, "seeds": 2, "resolution": 8}


def _folders(root: Path) -> list[Path]:
    return sorted(p for p in (root / "train").iterdir() if p.is_dir())


def test_run_goes_from_spec_to_trained_reported_networks(write_spec, cli, tmp_path):
    spec = write_spec(search={"trials": 3}, family={"phi": 1}, final={**FINAL, "compare_progressive": True})
    root = tmp_path / "run"
    code, _, err = cli("run", spec, "--out", root)
    assert code == 0, err
    results = json.loads((root / "results.json").read_text())
    names = [row["name"] for row in results["networks"] if row["role"] != "progressive"]
    progressive = [row for row in results["networks"] if row["role"] == "progressive"]
    assert [row["name"] for row in progressive] == ["found-phi0-progressive", "found-phi1-progressive"]
    assert json.loads((root / "train" / "found-phi0-progressive-seed0" / "metrics.json").read_text())["schedule"]
    # the choice and its phi-1 member, and every naive rule at each one's FLOPs (this search is not verified)
    assert names[:2] == ["found-phi0", "naive-width-phi0"] and "found-phi1" in names
    assert {row["rule"] for row in results["networks"] if row["role"] == "naive"} == {"width", "compound", "half_depth"}
    for row in results["networks"]:
        assert sorted(row["test"]) == ["0", "1"]  # both seeds, test scored
    assert len(_folders(root)) == (len(names) + len(progressive)) * 2
    for folder in _folders(root):  # every run: weights that load into its architecture, and a card
        arch = load_architecture(str(folder / "architecture.json"))
        state, header = load_weights(folder / "model.safetensors")
        card = json.loads((folder / "card.json").read_text())
        assert header["architecture_hash"] == card["architecture_hash"]
        build_model(arch, num_classes=10, in_channels=1).load_state_dict(state)
    gaps = [g for g in results["gaps"] if g["role"] == "naive"]
    assert {g["phi"] for g in gaps} == {0, 1} and all(
        g["seeds"] == 2 and g["low"] <= g["mean"] <= g["high"] for g in gaps
    )
    # each network's measured speed (train step at the recipe's batch, batch-1 latency), and the found/naive ratios
    assert all(row["step_ms"] > 0 and row["latency_ms"] > 0 for row in results["networks"])
    rows = {row["name"]: row for row in results["networks"]}
    for g in gaps:
        found, naive = rows[f"found-phi{g['phi']}"], rows[g["naive"]]
        assert g["found_over_naive"]["step_ms"] == pytest.approx(found["step_ms"] / naive["step_ms"])
        assert g["found_over_naive"]["flops"] == pytest.approx(found["flops"] / naive["flops"])
    report = (root / "report.md").read_text()
    assert "train step ms (batch " in report and "train step" in report.split("Found minus naive")[1]
    assert "| found-phi0" in report and "95% t interval" in report and (root / "report.png").stat().st_size > 0
    assert "Progressive learning" in report and "progressive takes" in report
    # the choice, exported: ONNX with its trained weights, and a timm checkpoint
    timm_state, _ = load_weights(root / "export" / "timm" / "model.safetensors")
    assert "conv_stem.weight" in timm_state and json.loads((root / "export" / "timm" / "timm.json").read_text())
    ort = pytest.importorskip("onnxruntime")
    arch = load_architecture(str(root / "train" / "found-phi0-seed0" / "architecture.json"))
    model = build_model(arch, num_classes=10, in_channels=1).eval()
    model.load_state_dict(load_weights(root / "train" / "found-phi0-seed0" / "model.safetensors")[0])
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    logits = ort.InferenceSession(str(root / "export" / "model.onnx")).run(None, {"images": x.numpy()})[0]
    assert torch.allclose(torch.from_numpy(logits), model(x).detach(), atol=1e-4)
    # nas report rebuilds the same results from the run's own files
    before = (root / "results.json").read_text()
    (root / "results.json").unlink()
    code, _, err = cli("report", root)
    assert code == 0, err
    assert (root / "results.json").read_text() == before


def test_until_stops_early_and_resume_repeats_nothing(write_spec, cli, tmp_path, trials_csv):
    spec = write_spec(search={"trials": 3}, final=FINAL)
    root = tmp_path / "run"
    code, out, err = cli("run", spec, "--out", root, "--until", "search")
    assert code == 0 and "continue with: nas run --out" in out, err
    assert (root / "search" / "best.json").is_file() and not (root / "train").exists()
    trials = len(trials_csv(root / "search"))
    code, out, err = cli("run", "--out", root, "--resume")
    assert code == 0, err
    assert "search: done" in out and len(trials_csv(root / "search")) == trials
    code, out, _ = cli("run", "--out", root, "--resume")
    assert code == 0 and "0 to run" in out


def test_a_killed_training_stage_resumes_losing_and_repeating_nothing(write_spec, cli, tmp_path):
    spec = write_spec(search={"trials": 2}, final={**FINAL, "seeds": 3, "epochs": 2})
    root = tmp_path / "run"
    assert cli("run", spec, "--out", root, "--until", "search")[0] == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nas", "run", "--out", str(root), "--resume"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _finished(root):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = _finished(root)
    assert finished, "no run finished before the kill"
    code, out, err = cli("run", "--out", root, "--resume")
    assert code == 0, err
    assert f"; {len(finished)} done" in out, out
    results = json.loads((root / "results.json").read_text())
    assert len(_folders(root)) == len(results["networks"]) * 3  # every run once; no .partial left behind
    for name, mtime in finished.items():  # nothing finished before the kill ran again
        assert (root / "train" / name / "metrics.json").stat().st_mtime_ns == mtime


def _finished(root: Path) -> dict[str, int]:
    """Runs whose folder is complete (a killed run may leave ``NAME.partial``), with metrics.json's mtime."""
    return {p.parent.name: p.stat().st_mtime_ns for p in (root / "train").glob("*-seed[0-9]/metrics.json")}


def test_bad_pipeline_input_is_one_line(write_spec, cli, tmp_path):
    spec = write_spec(final={"recipe": "fancy"})
    code, _, err = cli("run", spec, "--out", tmp_path / "a")
    assert code == 2 and err.strip().count("\n") == 0 and "final.recipe: must be one of own, plain" in err
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    code, _, err = cli("run", write_spec(), "--out", tmp_path / "b")
    assert code == 2 and "already exists" in err and (tmp_path / "b" / "keep.txt").read_text() == "mine"
    code, _, err = cli("run")
    assert code == 2 and "SPEC.yaml is required" in err
    assert cli("search", write_spec(search={"trials": 1}), "--out", tmp_path / "s")[0] == 0
    code, _, err = cli("run", "--out", tmp_path / "s", "--resume")
    assert code == 2 and "is not a nas run directory" in err and not (tmp_path / "s" / "search").exists()
