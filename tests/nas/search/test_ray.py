"""The Ray Tune executor, on loopback only.

Ray binds to the machine's interface address whatever ``--node-ip-address`` says, so every
Ray process here runs inside a private network namespace that holds only loopback
(``unshare --net``, then ``ip link set lo up``; root only). ``ray stop`` ends each cluster,
so no stale ``/tmp/ray/ray_current_cluster`` is left for the next start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

ROOT = Path(__file__).resolve().parents[3]

pytest.importorskip("ray")
if shutil.which("unshare") is None or os.geteuid() != 0:
    pytest.skip("Ray tests need root and unshare for a loopback-only network namespace", allow_module_level=True)

pytestmark = pytest.mark.slow
PY = sys.executable
RAY = str(Path(sys.executable).with_name("ray"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}


def in_namespace(script: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a bash script in a new network namespace with only loopback up (each search here
    takes 1-2 minutes on 2 idle cores; the limit leaves room for a loaded machine)."""
    return subprocess.run(["unshare", "--net", "bash", "-c", "set -e; ip link set lo up; " + script],
                          env=ENV, capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.fixture(autouse=True)
def no_ray_left_behind():
    """`ray stop` before and after each test, even one that timed out: a cluster left running
    (and its /tmp/ray/ray_current_cluster) would break the next `ray start`."""
    in_namespace(f"{RAY} stop --force", timeout=60)
    yield
    in_namespace(f"{RAY} stop --force", timeout=60)


@pytest.fixture
def ray_spec(write_spec):
    """``ray_spec(**ray)``: the small spec on executor ray, with ``search.ray`` settings."""

    def make(screen: dict[str, object] | None = None, **ray: object) -> Path:
        return write_spec(
            search={"trials": 3, "executor": "ray", "pruner": "asha", "ray": {"num_cpus": 2, **ray}},
            proxy={"epochs": 2, "screen": screen},
        )

    return make


def test_search_on_a_started_ray_cluster(ray_spec, trials_csv, tmp_path):
    # screened too: each Ray trial scores its candidate (params: instant and deterministic) and,
    # after the first two, trains it only if it lies in the top half of the scores so far
    screen = {"estimator": "params", "keep": 0.5, "warmup": 2, "min_tau": -1.0}
    spec = ray_spec(screen=screen, address="127.0.0.1:6390", num_cpus=None)
    out = tmp_path / "run"
    script = (
        f"{RAY} start --head --node-ip-address=127.0.0.1 --port=6390 --num-cpus=2 --include-dashboard=false "
        f"--disable-usage-stats > {tmp_path}/ray-start.log 2>&1; "
        f"trap '{RAY} stop --force > /dev/null 2>&1' EXIT; "
        f"{PY} -m nas search {spec} --out {out}"
    )
    done = in_namespace(script)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "ray: connected to 127.0.0.1:6390" in done.stdout
    # the same outputs as a local run
    for name in ("spec.yaml", "study.db", "trials.csv", "best.json", "report.md", "report.png"):
        assert (out / name).is_file(), name
    assert not [p for p in out.iterdir() if "ray" in p.name.lower()]
    table = trials_csv(out)
    assert len(table) == 3 and {r["state"] for r in table} <= {"COMPLETE", "PRUNED"}
    trained = [r for r in table if r["state"] == "COMPLETE" and "screened out" not in r["reason"]]
    assert trained and all(float(r["accuracy"]) > 0 and float(r["flops"]) > 0 for r in trained)
    assert all(r["s1.kernel"] in ("3", "5") and r["worker"] for r in table)
    assert all(r["screen_score"] for r in table) and table[0]["train_seconds"]  # the warm-up trains
    screened = [r for r in table if "screened out" in r["reason"]]
    assert all(r["train_seconds"] == "" and float(r["reward"]) == 0 for r in screened)
    assert "screen: `params` scored 3 candidates in" in (out / "report.md").read_text()


def test_interrupted_ray_search_resumes_to_completion(ray_spec, trials_csv, tmp_path):
    spec = ray_spec(max_concurrent_trials=1)
    spec.write_text(spec.read_text().replace("trials: 3", "trials: 4").replace("epochs: 2", "epochs: 4"))
    out = tmp_path / "run"
    storage = f"sqlite:///{out / 'study.db'}"
    driver = subprocess.Popen(
        ["unshare", "--net", "bash", "-c", f"ip link set lo up; exec {PY} -m nas search {spec} --out {out}"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    kept: dict[int, dict] = {}
    deadline = time.time() + 150
    try:
        while not kept and time.time() < deadline:
            time.sleep(0.5)
            try:
                trials = optuna.load_study(storage=storage, study_name="s").trials
            except Exception:
                continue
            if any(t.state.name == "COMPLETE" for t in trials) and any(t.state.name == "RUNNING" for t in trials):
                kept = {t.number: t.params for t in trials if t.state.name == "COMPLETE"}
        assert kept, "no trial completed in time"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray instance it started
        driver.wait(timeout=30)
    in_namespace(f"{RAY} stop --force", timeout=60)
    resumed = in_namespace(f"{PY} -m nas search --resume --out {out}")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "interrupted trial(s) as failed" in resumed.stdout
    study = optuna.load_study(storage=storage, study_name="s")
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    assert len(finished) == len(study.trials) == 4
    for number, params in kept.items():  # nothing completed is lost or repeated
        assert study.trials[number].state.name == "COMPLETE" and study.trials[number].params == params
    assert any(t.user_attrs.get("fail_reason", "").startswith("interrupted") for t in study.trials)
    assert len(trials_csv(out)) == 4 and (out / "best.json").is_file()


def test_ray_runs_the_warm_start_first_and_trains_each_network_once(write_spec, trials_csv, tmp_path):
    # A space of two networks (kernel 3 or 5; every other choice single) around a 1-stage base:
    # trial 0 is the naive network (kernel 3), trial 1 the warm-start file (kernel 5), and the
    # sampled trials after them can only repeat one of the two, which is not trained again.
    import json

    from search_spaces import preset_path

    b0 = json.loads(preset_path("efficientnet-b0").read_text())
    b0["stages"] = [{**stage, "kernel": 3, "expand": 6} for stage in b0["stages"][:1]]
    (tmp_path / "k3.json").write_text(json.dumps({**b0, "name": "k3"}))
    b0["stages"] = [{**stage, "kernel": 5} for stage in b0["stages"]]
    (tmp_path / "k5.json").write_text(json.dumps({**b0, "name": "k5"}))
    spec = write_spec(
        space={"base": str(tmp_path / "k3.json"), "kernel": [3, 5], "expand": [6], "se": [0.25], "layers": [0],
               "width": [1.0], "stem": [1.0], "head": [1.0]},
        target={"resolution": 224, "num_classes": 10, "flops": 100e6, "lower": 0.9},
        search={"trials": 4, "executor": "ray", "pruner": "none", "sampler": "random",
                "warm_start": [str(tmp_path / "k5.json")], "ray": {"num_cpus": 2, "max_concurrent_trials": 1}},
    )  # fmt: skip
    out = tmp_path / "run"
    done = in_namespace(f"{PY} -m nas search {spec} --out {out}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = trials_csv(out)
    assert [r["warm_start"] for r in table[:2]] == ["naive", str(tmp_path / "k5.json")]
    assert [r["s1.kernel"] for r in table[:2]] == ["3", "5"] and all(r["same_as"] == "" for r in table[:2])
    for row in table[2:]:  # a repeat takes the earlier result and is not trained
        twin = table[int(row["same_as"])]
        assert row["s1.kernel"] == twin["s1.kernel"] and row["accuracy"] == twin["accuracy"]
        assert row["train_seconds"] == ""
    assert all(0.9 * 100e6 <= float(r["flops"]) <= 100e6 for r in table)


def test_screening_in_a_pareto_search_on_ray(write_spec, tmp_path):
    # as locally (test_screen.py): a screened-out Ray trial reports both objective values,
    # accuracy 0 at its cost, and completes
    screen = {"estimator": "params", "keep": 0.01, "warmup": 2, "min_tau": -1.0}  # after 2: only a new maximum trains
    spec = write_spec(
        objective={"type": "pareto"},
        proxy={"screen": screen},
        search={"trials": 5, "executor": "ray", "pruner": "none", "sampler": "random",
                "ray": {"num_cpus": 2, "max_concurrent_trials": 1}},
    )  # fmt: skip
    out = tmp_path / "run"
    done = in_namespace(f"{PY} -m nas search {spec} --out {out}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = optuna.load_study(storage=f"sqlite:///{out / 'study.db'}", study_name="s").trials
    screened = [t for t in trials if str(t.user_attrs.get("screen", "")).startswith("screened out")]
    assert screened and all(t.state.name == "COMPLETE" for t in trials)
    for t in screened:
        assert t.values == [0.0, t.user_attrs["cost"]] and t.user_attrs["accuracy"] is None
