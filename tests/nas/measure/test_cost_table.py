"""Cost tables: the layers a space can produce, ``nas profile``, prediction, and bad tables."""

from __future__ import annotations

import json
import random

import pytest

from nas.measure.cost_table import CostTable, ProfileSettings, TableError, network_layers, space_layers
from nas.plan import RunPlan
from scaling import fit_to_budget
from search_spaces import SPACES, load_architecture


def test_network_layers_follow_the_strides():
    b0 = load_architecture("efficientnet-b0")
    layers = network_layers(b0, resolution=224)
    assert layers[0].key == "stem:3>32@224" and layers[-1].key == "head:320>1280@7"
    assert layers[1].key == "block:mbconv:k3:e1:se0.25:s1:32>16@112"  # B0's first block
    assert layers[2].key == "block:mbconv:k3:e6:se0.25:s2:16>24@112" and layers[3].size == 56
    assert len(layers) == 1 + b0.num_blocks + 1


@pytest.mark.parametrize(
    ("space_type", "base"), [("mbconv", "efficientnet-b0"), ("training_aware", "efficientnetv2-b0")]
)
def test_space_layers_cover_every_network_of_the_space(space_type, base):
    space = SPACES[space_type](base=load_architecture(base))
    table = space_layers(space, resolution=224, multipliers=None)
    rng = random.Random(0)
    for _ in range(100):
        params = {n: rng.choice(v) for n, v in space.choices().items()}
        if space.conditional:
            params = {n: v for n, v in params.items() if not n.endswith(".se") or
                      params[n.replace(".se", ".block")] == "mbconv"}  # fmt: skip
        assert {layer.key for layer in network_layers(space.decode(params), resolution=224)} <= set(table)


def test_fitted_networks_are_covered_by_the_fit_multipliers(write_spec):
    from nas.profile_run import fit_multipliers

    spec = write_spec(space={"base": "efficientnet-b0", "width": None},
                      target={"resolution": 224, "num_classes": 1000, "flops": 100e6, "lower": 0.9})  # fmt: skip
    plan = RunPlan.load(spec)
    multipliers = fit_multipliers(plan)
    assert multipliers is not None and 0 < min(multipliers) < max(multipliers)
    table = space_layers(plan.space, resolution=224, multipliers=multipliers)
    rng = random.Random(1)
    for _ in range(15):
        arch = plan.space.decode({n: rng.choice(v) for n, v in plan.space.choices().items()})
        fitted = fit_to_budget(arch, 100e6, resolution=224).arch
        assert {layer.key for layer in network_layers(fitted, resolution=224)} <= set(table)


def _latency_spec(write_spec, tiny, **target):
    return write_spec(
        space={"base": tiny, "kernel": [3, 5], "expand": [3, 6], "se": [0.25], "layers": [0], "width": [1.0],
               "stem": [1.0], "head": [1.0]},
        target={"resolution": 32, "num_classes": 10, "flops": None, "latency_ms": 5.0, **target},
        search={"trials": 3, "sampler": "random"},
    )  # fmt: skip


def test_profile_then_search_from_the_table(cli, write_spec, tiny, trials_csv, tmp_path):
    spec = _latency_spec(write_spec, tiny)
    table_path = tmp_path / "table.json"
    fast = ("--warmup", "0", "--repeats", "1")
    # an interrupted profile: two entries timed, then a kill; the same command resumes
    partial = tmp_path / "table.json.partial.jsonl"
    settings = ProfileSettings(mode="latency", resolution=32, num_classes=10)
    plan = RunPlan.load(spec)
    keys = sorted(space_layers(plan.space, resolution=32, multipliers=None))
    partial.write_text("\n".join(json.dumps(r) for r in [{"settings": settings.key()}, {"key": keys[0], "ms": 0.5},
                                                         {"key": keys[1], "ms": 0.25}]) + "\n")  # fmt: skip
    code, stdout, err = cli("profile", spec, "--out", table_path, *fast)
    assert code == 0, err
    n = len(keys)
    assert f"{n} layer configurations x 3 passes, 2 already timed, {3 * n - 2} to time" in stdout
    assert not partial.exists()
    table = CostTable.load(table_path)
    assert set(table.entries) == set(keys) and all(v > 0 for v in table.entries.values())
    assert table.settings.mode == "latency" and table.settings.batch_size == 1
    code, _, err = cli("profile", spec, "--out", table_path)
    assert code == 2 and "already exists" in err  # never overwritten
    # the search predicts every candidate's latency from the table
    run = tmp_path / "run"
    code, _, err = cli("search", _latency_spec(write_spec, tiny, table=str(table_path)), "--out", run)
    assert code == 0, err
    import optuna

    from search_spaces import architecture_from_dict

    study = optuna.load_study(study_name="s", storage=f"sqlite:///{run / 'study.db'}")
    for row, trial in zip(trials_csv(run), study.trials, strict=True):
        assert row["cost_source"] == "table"
        predicted = table.predict(architecture_from_dict(trial.user_attrs["architecture"]))
        assert float(row["latency_ms"]) == pytest.approx(predicted)


def test_a_space_too_large_is_refused(cli, write_spec, tiny, tmp_path):
    code, _, err = cli("profile", _latency_spec(write_spec, tiny), "--out", tmp_path / "t.json", "--max-entries", "5")
    assert code == 2 and "layer configurations to time, over --max-entries 5" in err
    assert not (tmp_path / "t.json").exists()


def _table(tiny, write_spec, tmp_path, change):
    spec = _latency_spec(write_spec, tiny)
    plan = RunPlan.load(spec)
    keys = space_layers(plan.space, resolution=32, multipliers=None)
    base = plan.base
    data = CostTable(ProfileSettings(resolution=32, num_classes=10), dict.fromkeys(keys, 0.1), 1.0,
                     {"name": base.name, "activation": base.activation, "bn_eps": base.bn_eps,
                      "bn_momentum": base.bn_momentum}).to_dict()  # fmt: skip
    change(data)
    path = tmp_path / "table.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="x"), "not a cost table (format must be 'effnas.cost_table/1')"),
        (lambda d: d.pop("entries"), "malformed cost table (KeyError"),
        (lambda d: d["entries"].update({"stem:3>8@32": -1.0}), "malformed cost table (entry stem:3>8@32 is not a"),
        (lambda d: d.update(scale=0), "malformed cost table (scale must be a finite number > 0, got 0.0)"),
        (lambda d: d["settings"].update(mode="step", batch_size=8), "with mode 'step'; this search needs 'latency'"),
        (lambda d: d["settings"].update(resolution=64), "measured with resolution 64; this search needs 32"),
        (lambda d: d["settings"].update(threads=2), "measured with threads 2; this search needs 1"),
        (lambda d: d["settings"].update(batch_size=4), "measured with batch_size 4; this search needs 1"),
        (lambda d: d["base"].update(activation="relu"), "for another space: its base has activation 'relu'"),
        (lambda d: d["entries"].pop(sorted(d["entries"])[3]), "for another space: it lacks 1 of the"),
    ],
)  # fmt: skip
def test_bad_tables_are_one_line_spec_errors(cli, write_spec, tiny, tmp_path, change, message):
    table = _table(tiny, write_spec, tmp_path, change)
    code, _, err = cli("search", _latency_spec(write_spec, tiny, table=str(table)), "--out", tmp_path / "run")
    assert code == 2 and "target.table: " in err and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_bad_table_files(cli, write_spec, tiny, tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    for path, message in ((tmp_path / "broken.json", "not JSON"), (tmp_path / "none.json", "cannot be read")):
        code, _, err = cli("search", _latency_spec(write_spec, tiny, table=str(path)), "--out", tmp_path / "run")
        assert code == 2 and "target.table: " in err and message in err
    flops = write_spec(target={"table": str(tmp_path / "broken.json")})
    code, _, err = cli("search", flops, "--out", tmp_path / "run")
    assert code == 2 and "target.table" in err


def test_prediction_names_a_missing_entry(tiny):
    arch = load_architecture(tiny)
    table = CostTable(ProfileSettings(resolution=32, num_classes=10), {}, 1.0, {})
    with pytest.raises(TableError, match=r"lacks \d+ entries of tiny-base, such as block:"):
        table.predict(arch)
    keys = [layer.key for layer in network_layers(arch, resolution=32)]
    full = CostTable(ProfileSettings(resolution=32, num_classes=10), dict.fromkeys(keys, 1.0), 0.8, {})
    assert full.predict(arch) == pytest.approx(len(keys) * 1.0 * 0.8)  # additive, times the calibrated factor


def test_the_table_travels_with_the_plan(write_spec, tiny, tmp_path):
    path = _table(tiny, write_spec, tmp_path, lambda d: None)
    plan = RunPlan.load(_latency_spec(write_spec, tiny, table=str(path)))
    wire = json.loads(json.dumps(plan.to_wire()))  # plain data, as workers and Ray nodes receive it
    path.unlink()  # a node that never had the file
    again = RunPlan.from_wire(wire)
    assert again.table == plan.table and again.table is not None
    arch = plan.space.decode({name: values[-1] for name, values in plan.space.choices().items()})
    assert again.table.predict(arch) == plan.table.predict(arch) > 0


def test_a_step_table_must_match_the_specs_step_and_optimizer(write_spec, tiny):
    # one definition of a step (nas.measure.costs.training_step): a table timed with another batch,
    # thread count or optimizer than target.step and the proxy's recipe predicts another cost
    from nas.measure.cost_table import TableError
    from nas.spec import spec_from_dict

    spec = {"target": {"step_time": 50.0, "resolution": 32, "num_classes": 10,
                       "step": {"batch_size": 8, "threads": 1}},
            "objective": {"type": "mnas", "mode": "abs"}, "space": {"base": tiny}}  # fmt: skip
    plan = RunPlan.from_spec(spec_from_dict(spec))
    needed = plan.table_settings()
    assert needed == {"mode": "step", "resolution": 32, "num_classes": 10, "in_channels": 3, "batch_size": 8,
                      "threads": 1, "optimizer": "adamw"}  # fmt: skip
    base = {"activation": plan.base.activation, "bn_eps": plan.base.bn_eps, "bn_momentum": plan.base.bn_momentum}
    for change, message in (({"optimizer": "sgd"}, "measured with optimizer 'sgd'; this search needs 'adamw'"),
                            ({"batch_size": 16}, "measured with batch_size 16; this search needs 8"),
                            ({"threads": 2}, "measured with threads 2; this search needs 1")):  # fmt: skip
        settings = ProfileSettings(**{"mode": "step", "resolution": 32, "num_classes": 10, "batch_size": 8,
                                      "threads": 1, **change})  # fmt: skip
        with pytest.raises(TableError, match=message):
            CostTable(settings, {}, 1.0, base).check(plan.base, set(), needed)
    CostTable(ProfileSettings(mode="step", resolution=32, num_classes=10, batch_size=8), {}, 1.0, base).check(
        plan.base, set(), needed
    )
