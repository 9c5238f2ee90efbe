"""``nas scale SPEC.yaml``: the grid search run end to end, its resume, bad specs, workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nas.cli import main

ROOT = Path(__file__).resolve().parents[3]


def _spec(tmp_path: Path) -> Path:
    path = tmp_path / "scale.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny-scale",
        "space": {"base": str(ROOT / "tests/fixtures/tiny-base.json")},
        "target": {"num_classes": 10},
        "proxy": {"dataset": "digits", "resolution": 8, "epochs": 1, "batch_size": 64, "threads": 1},
        "scale": {"step": 0.25, "tolerance": 0.3, "ratio_tolerance": 0.5, "phi": 2, "train_members": 2},
    }))  # fmt: skip
    return path


def test_grid_search_end_to_end_and_resume(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["scale", str(_spec(tmp_path)), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "6 candidates on the grid, 0 already evaluated, 6 to run" in stdout
    lines = (out / "grid.jsonl").read_text().splitlines()
    assert len(lines) == 6
    rows = [json.loads(line) for line in lines]
    for row in rows:
        assert row["nominal"] == pytest.approx(row["alpha"] * row["beta"] ** 2 * row["gamma"] ** 2)
    # width 1.25 and depth 1.25 round to FLOPs x3.66 already at the base's 32 px: skipped, never trained
    skipped = [r for r in rows if r["skipped"]]
    assert [(r["alpha"], r["beta"], r["gamma"]) for r in skipped] == [(1.25, 1.25, 1.0)]
    assert (
        "3.662 already at the base's 32 px" in skipped[0]["skipped"]
        and skipped[0]["accuracy"] != skipped[0]["accuracy"]
    )
    assert "skipped, not trained" in stdout and "no size lands in 2 ± 0.5" in (out / "grid.md").read_text()
    landed = [r for r in rows if not r["skipped"]]
    for row in landed:  # every trained candidate's measured FLOPs ratio lands in 2 ± 0.5
        assert abs(row["flops_ratio"] - 2) <= 0.5 and 0 <= row["accuracy"] <= 1 and row["resolution"] in (32, 40, 48)
    # depth 1.75 and 2 round to the same repeats of tiny-base (ceil): the twin is not trained again
    twins = {(r["alpha"], r["beta"], r["gamma"]): r for r in rows}
    assert twins[(2.0, 1.0, 1.0)]["same_as"] == "1.75,1,1" and twins[(2.0, 1.0, 1.0)]["seconds"] == 0
    assert twins[(2.0, 1.0, 1.0)]["accuracy"] == twins[(1.75, 1.0, 1.0)]["accuracy"]
    assert twins[(2.0, 1.0, 1.0)]["arch_hash"] == twins[(1.75, 1.0, 1.0)]["arch_hash"]
    assert sum(1 for r in rows if r["same_as"]) == 1 and "not trained again" in stdout
    manifest = json.loads((out / "family" / "family.json").read_text())
    best = max(landed, key=lambda r: (r["accuracy"], -r["flops"]))
    assert (manifest["alpha"], manifest["beta"], manifest["gamma"]) == (best["alpha"], best["beta"], best["gamma"])
    assert manifest["gamma_used"] == best["resolution"] / 32  # the family grows from the size evaluated
    assert len(manifest["members"]) == 3 and (out / "grid.md").read_text().startswith("chosen:")
    # train_members: 2 trains phi 0 and 1 (at 8 px and 8 * r1 / r0 px) and records their accuracy
    trained = [json.loads(x) for x in (out / "members.jsonl").read_text().splitlines()]
    assert [t["phi"] for t in trained] == [0, 1] and trained[0]["proxy_resolution"] == 8
    accuracies = [m["proxy_accuracy"] for m in manifest["members"]]
    assert accuracies[2] is None and all(0 <= a <= 1 for a in accuracies[:2])
    assert accuracies[:2] == [t["accuracy"] for t in trained]
    # A kill after three candidates, mid-write of the fourth: resume trains only the rest.
    (out / "grid.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    assert main(["scale", str(_spec(tmp_path)), "--out", str(out), "--resume"]) == 0
    stdout = capsys.readouterr().out
    assert "3 already evaluated, 3 to run" in stdout and "training" not in stdout  # members were trained
    again = [json.loads(x) for x in (out / "grid.jsonl").read_text().splitlines() if x.endswith("}")]
    assert [r["accuracy"] for r in again[:3]] == pytest.approx([r["accuracy"] for r in rows[:3]], nan_ok=True)
    assert len({(r["alpha"], r["beta"], r["gamma"]) for r in again}) == 6
    # an existing run directory is refused without --resume
    assert main(["scale", str(_spec(tmp_path)), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scale": {"step": 0}}, "scale.step: must be > 0"),
        ({"scale": {"beta": [0.5, 1.5]}}, "scale.beta: must be [low, high] with 1 <= low <= high"),
        ({"scale": {"phi": -1}}, "scale.phi: must be >= 0, got -1"),
        ({"scale": {"train_members": 4}}, "scale.train_members: must be in [0, phi + 1 = 3], got 4"),
        ({"scale": {"tolerance": 0.0, "target": 2.001}}, "no grid point"),
    ],
)
def test_bad_scale_specs_exit_2(capsys, tmp_path, change, message):
    path = _spec(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["scale"].update(change["scale"])
    path.write_text(yaml.safe_dump(data))
    assert main(["scale", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_grid_on_two_workers_equals_the_serial_grid(capsys, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert main(["scale", str(_spec(tmp_path)), "--out", str(serial)]) == 0
    path = _spec(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["search"] = {"workers": 2}
    path.write_text(yaml.safe_dump(data))
    assert main(["scale", str(path), "--out", str(parallel)]) == 0

    def by_candidate(run: Path) -> dict[tuple[float, float, float], tuple[float, str]]:
        rows = [json.loads(line) for line in (run / "grid.jsonl").read_text().splitlines()]
        return {(r["alpha"], r["beta"], r["gamma"]): (r["accuracy"], r["same_as"]) for r in rows}

    # one thread per trial either way: the same accuracies, the same twin, the same choice
    assert by_candidate(parallel) == by_candidate(serial)
    assert (parallel / "family" / "family.json").read_text() == (serial / "family" / "family.json").read_text()
