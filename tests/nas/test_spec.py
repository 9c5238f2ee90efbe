"""The experiment spec: defaults, the resolved dump, and malformed specs (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nas.cli import main
from nas.spec import PROXY_EPOCHS, PROXY_TRAIN_SIZE, SpecError, dump_spec, load_spec, spec_from_dict
from nas.training.data import DEFAULT_FASHION_MNIST

ROOT = Path(__file__).resolve().parents[2]


def test_minimal_spec_gets_defaults():
    spec = spec_from_dict({"target": {"flops": 4e8}})
    assert spec.objective.type == "mnas" and spec.objective.mode == "soft"
    assert spec.search.sampler == "evolution" and spec.search.trials == 20 and spec.search.pruner == "median"
    assert spec.proxy.data.dataset == "digits" and spec.target.resolution == 224 and spec.target.cost == "flops"
    assert spec_from_dict({"objective": {"type": "pareto"}}).search.sampler == "nsga2"
    assert spec_from_dict({"objective": {"type": "training_aware"}}).search.sampler == "tpe"


def test_pruner_default_follows_the_executor():
    assert spec_from_dict({"target": {"flops": 1e8}}).search.pruner == "median"
    ray = spec_from_dict({"target": {"flops": 1e8}, "search": {"executor": "ray"}}).search
    assert ray.pruner == "asha" and ray.ray.max_failures == 1 and ray.ray.cpus_per_trial == 1.0


def test_training_aware_defaults_come_from_the_space():
    spec = spec_from_dict({"space": {"type": "training_aware"}, "objective": {"type": "training_aware"}})
    s = spec.space
    assert s.base == "efficientnetv2-s" and s.block == ("mbconv", "fused_mbconv") and s.width is None
    assert s.kernel == (3, 5) and s.expand == (1, 4, 6) and s.se == (0.25,) and s.layers == (-1, 0, 1)
    assert (spec.objective.w, spec.objective.v) == (-0.07, -0.05) and spec.cost_metric == "step_time"
    assert spec.target.step.batch_size == 16 and spec.target.step.device == "cpu" and spec.target.step.threads == 1
    mbconv = spec_from_dict({"target": {"flops": 1e8}}).space
    assert mbconv.base == "efficientnet-b0" and mbconv.width == (0.75, 1.0, 1.25) and mbconv.block is None


def test_resolved_dump_round_trips(tmp_path):
    spec = spec_from_dict({"name": "x", "target": {"latency_ms": 20.0}, "space": {"width": [0.5, 1]}})
    path = tmp_path / "spec.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec
    assert spec.space.width == (0.5, 1.0) and spec.target.cost == "latency_ms"


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "experiments").glob("*.yaml")))
def test_shipped_experiments_are_valid(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # specs name their files relative to the repository root
    data = yaml.safe_load((ROOT / "experiments" / name).read_text())
    if data.get("proxy", {}).get("dataset") == "fashion-mnist" and not Path(DEFAULT_FASHION_MNIST).is_dir():
        pytest.skip(f"{DEFAULT_FASHION_MNIST} is missing (Debian's dataset-fashion-mnist)")
    purpose = "scale" if "scale" in data else "search"
    base = data.get("space", {}).get("base", "")
    if base.startswith("runs/") and not (ROOT / base).exists():
        # The spec builds on another experiment's output: without it, the error names the field;
        # with a stand-in base, the rest of the spec validates.
        with pytest.raises(SpecError, match=f"space.base: '{base}' is neither"):
            load_spec(ROOT / "experiments" / name, purpose=purpose)
        data["space"]["base"] = "experiments/archs/small-mbconv.json"
        assert spec_from_dict(data, purpose=purpose).name == data["name"]
        return
    table = data.get("target", {}).get("table")
    if table is not None and not (ROOT / table).exists():
        # The cost table is made by `nas profile` on the target device: without it, the error names the field.
        from nas.plan import RunPlan

        with pytest.raises(SpecError, match=f"target.table: {table}: cannot be read"):
            RunPlan.load(ROOT / "experiments" / name, purpose=purpose)
        del data["target"]["table"]
        assert spec_from_dict(data, purpose=purpose).name == data["name"]
        return
    spec = load_spec(ROOT / "experiments" / name, purpose=purpose)
    assert spec.name == data["name"]


BASE = {"name": "t", "target": {"flops": 1e8}}
BAD = [
    ({"proxy": {"epochs": 0}}, "proxy.epochs: must be >= 1, got 0"),
    ({"proxy": {"epochs": "three"}}, "proxy.epochs: must be an integer, got 'three'"),
    ({"proxy": {"epoch": 3}}, "proxy.epoch: unknown key"),
    ({"colour": "red"}, "colour: unknown key"),
    ({"proxy": {"dataset": "imagenet"}}, "proxy.dataset: must be one of"),
    ({"proxy": {"dataset": "mnist"}}, "proxy.path: dataset mnist needs a path"),
    (
        {"proxy": {"dataset": "cifar10", "path": "/nonexistent/cifar"}},
        "proxy.path: does not exist, got '/nonexistent/cifar'",
    ),
    ({"proxy": {"lr": -0.1}}, "proxy.lr: must be a finite number > 0, got -0.1"),
    ({"proxy": {"batch_size": 1.5}}, "proxy.batch_size: must be an integer, got 1.5"),
    ({"proxy": {"train_size": 0}}, "proxy.train_size: must be >= 1, got 0"),
    ({"proxy": "digits"}, "proxy: must be a mapping, got 'digits'"),
    ({"target": {"flops": -5}}, "target.flops: must be > 0, got -5.0"),
    ({"target": {"flops": 1e8, "params": 1e6}}, "target: give at most one budget"),
    ({"target": {"flops": None}}, "target: objective mnas needs a budget"),
    ({"target": {"flops": 1e8, "resolution": 0}}, "target.resolution: must be >= 1, got 0"),
    ({"target": {"flops": float("inf")}}, "target.flops: must be a finite number, got inf"),
    ({"objective": {"type": "reinforce"}}, "objective.type: must be mnas, pareto or training_aware"),
    ({"objective": {"mode": "relative"}}, "objective.mode: must be soft, hard, custom or abs"),
    (
        {"objective": {"type": "training_aware"}, "target": {"lower": None}},
        "target.lower: objective training_aware takes a flops budget only as a band",
    ),
    (
        {"objective": {"type": "training_aware"}, "target": {"flops": None, "step_time": 50.0}},
        "target.step_time: objective training_aware measures step time itself",
    ),
    ({"objective": {"w": -0.1}}, "objective.w: w and v are only read with type: training_aware, got -0.1"),
    ({"target": {"flops": 1e8, "step_time": 5.0}}, "target: give at most one budget"),
    ({"target": {"flops": 1e8, "step": {"threads": 0}}}, "target.step.threads: must be >= 1, got 0"),
    ({"target": {"flops": 1e8, "step": {"device": "tpu"}}}, "target.step.device: must be auto, cpu, cuda or cuda:N"),
    ({"proxy": {"device": "gpu"}}, "proxy.device: must be auto, cpu, cuda or cuda:N, got 'gpu'"),
    ({"target": {"flops": 1e8, "step": {"batch": 8}}}, "target.step.batch: unknown key"),
    ({"proxy": {"progressive": {"stages": 9}}}, "proxy.progressive.stages: must be in [1, epochs=3], got 9"),
    ({"proxy": {"progressive": {"dropout": [0.1]}}}, "proxy.progressive.dropout: must be [first, last], got [0.1]"),
    ({"proxy": {"progressive": {"dropout": [0.1, 1.5]}}}, "proxy.progressive.dropout: must be [first, last] in [0, 1)"),
    ({"proxy": {"progressive": {"min_size": 64}}}, "proxy.progressive.min_size: must be in [1, max_size=32], got 64"),
    ({"proxy": {"schedule": "linear"}}, "proxy.schedule: must be one of onecycle, cosine, constant, got 'linear'"),
    ({"proxy": {"seed": 3}}, "proxy.seed: unknown key"),
    ({"objective": {"mode": "custom", "alpha": -0.07}}, "objective.alpha: mode custom needs both alpha and beta"),
    ({"objective": {"mode": "soft", "beta": -1}}, "objective.mode: alpha and beta are only read with mode: custom"),
    ({"objective": {"mode": "abs", "beta": 0.1}}, "objective.beta: mode abs reads beta only, and it must be < 0"),
    ({"target": {"flops": 1e8, "lower": 0}}, "target.lower: must be in (0, 1]"),
    ({"space": {"kernel": []}}, "space.kernel: must list at least one choice, got []"),
    ({"space": {"kernel": [3, 4]}}, "space.kernel: kernels must be odd and >= 1, got 4"),
    ({"space": {"width": [0.5, 0.5]}}, "space.width: choices must be distinct"),
    ({"space": {"se": [1.5]}}, "space.se: SE ratios must be in [0, 1), got 1.5"),
    ({"space": {"base": "resnet-50"}}, "space.base:"),
    ({"space": {"type": "cell"}}, "space.type: must be mbconv or training_aware, got 'cell'"),
    ({"space": {"type": "training_aware", "width": [1.0]}}, "space.width: is not a choice of the training_aware space"),
    ({"space": {"block": ["mbconv"]}}, "space.block: is not a choice of the mbconv space"),
    ({"space": {"type": "training_aware", "block": ["conv"]}}, "space.block: unknown kind 'conv'"),
    ({"space": {"layers": [0, 11]}}, "space.layers: layer deltas must be in [-10, 10], got 11"),
    ({"space": {"expand": "six"}}, "space.expand: must be a list, got 'six'"),
    ({"search": {"trials": 0}}, "search.trials: must be >= 1, got 0"),
    ({"search": {"sampler": "cmaes"}}, "search.sampler: must be tpe, nsga2, random, evolution or local, got 'cmaes'"),
    ({"search": {"pruner": "bohb"}}, "search.pruner: with executor local must be median, halving, hyperband, none"),
    ({"search": {"executor": "ray", "pruner": "median"}}, "search.pruner: with executor ray must be asha, none"),
    ({"search": {"executor": "dask"}}, "search.executor: must be local or ray, got 'dask'"),
    ({"search": {"workers": 0}}, "search.workers: must be >= 1, got 0"),
    ({"search": {"executor": "ray", "workers": 2}}, "search.workers: is for executor local"),
    ({"search": {"executor": "ray", "ray": {"cpus_per_trial": 0}}}, "search.ray.cpus_per_trial: must be > 0"),
    ({"search": {"executor": "ray", "ray": {"max_failures": -1}}}, "search.ray.max_failures: must be >= 0, got -1"),
    ({"search": {"ray": {"adress": "x"}}}, "search.ray.adress: unknown key"),
    ({"search": {"storage": "study.db"}}, "search.storage: must be a database URL"),
    ({"search": {"storage": "redis://localhost/0"}}, "search.storage: must be a database URL"),
    ({"verify": {"rungs": [{"epochs": 0}]}}, "verify.rungs[0].epochs: must be >= 1, got 0"),
    ({"verify": {"rungs": [{"epochs": 1, "size": 5}]}}, "verify.rungs[0].size: unknown key"),
    ({"verify": {"rungs": []}}, "verify.rungs: must list at least one choice, got []"),
    ({"verify": {"rungs": "1,2"}}, "verify.rungs: must be a list, got '1,2'"),
    ({"verify": {"rungs": [{"epochs": 2}], "epochs": 3}}, "verify.epochs: must be the last rung's (2) when rungs"),
    ({"verify": {"promote": 0}}, "verify.promote: must be in (0, 1], got 0.0"),
    ({"seed": "zero"}, "seed: must be an integer, got 'zero'"),
    ({"name": ""}, "name: must be a non-empty name"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_malformed_specs_exit_2_with_one_line(capsys, tmp_path, change, message):
    data = {**BASE}
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    code = main(["search", str(path), "--out", str(tmp_path / "run")])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [("name: [unclosed", "invalid YAML at line 1"), ("", "the spec is empty"), ("- 1\n- 2\n", "must be a mapping")],
)
def test_unreadable_specs(capsys, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["search", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_spec_file(capsys, tmp_path):
    assert main(["search", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_yaml_tags_are_not_executed(capsys, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo hacked']\n")
    assert main(["search", str(path)]) == 2
    assert "invalid YAML" in capsys.readouterr().err


def test_progressive_proxy_becomes_the_trainer_schedule():
    from nas.plan import RunPlan
    from nas.training.train import progressive_schedule

    proxy = {"epochs": 4, "resolution": 32, "progressive": {"stages": 2, "randaug": [0, 0]}}
    spec = spec_from_dict({"target": {"flops": 1e8}, "proxy": proxy})
    config = RunPlan.from_spec(spec).train
    progressive = config.resolved_progressive()
    assert progressive is not None and config.resolution == 32
    schedule = progressive_schedule(progressive, config.epochs)
    # half the resolution first (the default min_size), the proxy resolution last; dropout 0.1 -> 0.3
    assert [(s.size, s.first_epoch, s.end_epoch) for s in schedule] == [(16, 0, 2), (32, 2, 4)]
    assert [s.dropout for s in schedule] == pytest.approx([0.1, 0.3])
    assert RunPlan.from_spec(spec_from_dict({"target": {"flops": 1e8}})).train.progressive is None


def test_large_sources_get_the_measured_proxy_recipe(tmp_path):
    proxy = {"dataset": "cifar10", "path": str(tmp_path)}  # the path is only checked to exist here
    target = {"flops": 1e8}
    spec = spec_from_dict({"target": target, "proxy": proxy})
    assert (spec.proxy.data.train_size, spec.proxy.train.epochs) == (PROXY_TRAIN_SIZE, PROXY_EPOCHS)
    assert (spec.verify.train_size, spec.verify.epochs) == (2 * PROXY_TRAIN_SIZE, 2 * PROXY_EPOCHS)
    given = spec_from_dict({"target": target, "proxy": proxy | {"train_size": 3000, "epochs": 4}}).proxy
    assert (given.data.train_size, given.train.epochs) == (3000, 4)
    every = spec_from_dict({"target": target, "proxy": proxy | {"train_size": None}}).proxy
    assert every.data.train_size is None  # all, written out
    digits = spec_from_dict({"target": target}).proxy  # a small source: every image, the trainer's epochs
    assert (digits.data.train_size, digits.train.epochs) == (None, 3)
    path = tmp_path / "spec.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec  # the resolved recipe is written out, so it round-trips


def test_verification_rungs_resolve_to_the_last_rungs_recipe(tmp_path):
    from nas.plan import RunPlan

    rungs = [{"epochs": 2, "train_size": 10000}, {"epochs": 5}]
    spec = spec_from_dict({"target": {"flops": 1e8}, "verify": {"rungs": rungs, "promote": 0.5}})
    v = spec.verify
    assert (v.epochs, v.train_size, v.promote) == (5, None, 0.5)
    plan = RunPlan.from_spec(spec)
    assert [(r.epochs, r.train_size) for r in plan.verify_ladder] == [(2, 10000), (5, None)]
    assert plan.final_rung == 1 and [plan.verify_train(0, rung).epochs for rung in (0, 1)] == [2, 5]
    path = tmp_path / "spec.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec  # the resolved dump (last rung's epochs written out) loads again
    one = RunPlan.from_spec(spec_from_dict({"target": {"flops": 1e8}, "verify": {"epochs": 4, "train_size": 300}}))
    assert [(r.epochs, r.train_size) for r in one.verify_ladder] == [(4, 300)] and one.final_rung == 0
