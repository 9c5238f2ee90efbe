"""Budget-true search: candidates fitted into [lower T, T], trial 0 the naive network, each
network trained once, and verification against the naive network."""

from __future__ import annotations

import json
import re
from typing import Any

import optuna
import pytest
import yaml

from nas.objectives import training_aware_reward
from nas.plan import RunPlan
from nas.search.verify import NAIVE_NUMBERS
from search_spaces import architecture_from_dict, architecture_hash, count_flops, count_params, preset_path

T = 100e6
FAST = {"dataset": "digits", "resolution": 8, "epochs": 1, "batch_size": 64, "threads": 1}


def budget_spec(write_spec, **sections):
    """B0 for a 100M budget at 224 px (10 classes), trained on digits at 8 px."""
    base = {
        "space": {"base": "efficientnet-b0", "width": None},
        "target": {"resolution": 224, "num_classes": 10, "flops": T, "lower": 0.9},
        "proxy": FAST,
        "search": {"trials": 3, "sampler": "random", "pruner": "none"},
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return write_spec(**base)


def test_fitted_search_lands_in_the_band_and_starts_from_the_naive_network(cli, write_spec, trials_csv, tmp_path):
    spec = budget_spec(write_spec)
    out = tmp_path / "run"
    code, stdout, err = cli("search", spec, "--out", out)
    assert code == 0, err
    assert "warm start: trial 0 is efficientnet-b0 scaled uniformly to the budget" in stdout
    table = trials_csv(out)
    assert table[0]["warm_start"] == "naive"
    naive = RunPlan.load(spec).naive()
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{out / 'study.db'}")
    first = architecture_from_dict(study.trials[0].user_attrs["architecture"])
    assert architecture_hash(first) == architecture_hash(naive.arch) and float(table[0]["flops"]) == naive.cost
    for row in table:
        if row["accuracy"]:  # every trained candidate lands in [0.9 T, T]
            assert 0.9 * T <= float(row["flops"]) <= T and float(row["fit_width"]) > 0
            assert float(row["cost_before_fit"]) > 0
        else:
            assert "cannot land" in row["reason"]
    best = json.loads((out / "best.json").read_text())
    assert 0.9 * T <= best["metrics"]["flops"] <= T
    assert best["metrics"]["flops"] == count_flops(architecture_from_dict(best), resolution=224, num_classes=10)


def test_a_candidate_that_cannot_land_is_not_trained(cli, write_spec, trials_csv, tmp_path):
    # lower 1.0: only a network at exactly T lands, which channel rounding never gives
    out = tmp_path / "run"
    code, _, err = cli("search", budget_spec(write_spec, target={"lower": 1.0}), "--out", out)
    assert code == 1 and "no trial completed" in err
    for row in trials_csv(out):
        assert row["state"] == "COMPLETE" and "cannot land in [1 x budget, budget]" in row["reason"]
        assert row["accuracy"] == "" and float(row["reward"]) == 0.0 and row["train_seconds"] == ""


def test_a_candidate_too_deep_for_the_budget_is_made_shallower_and_trained(cli, write_spec, trials_csv, tmp_path):
    # B0 one block deeper in every stage, expansion 3 everywhere: over 25M at any width, so the
    # fit makes each candidate shallower and narrower by EfficientNet's compound rule instead
    out = tmp_path / "run"
    spec = budget_spec(write_spec, space={"layers": [1], "expand": [3], "kernel": [3]}, target={"flops": 25e6},
                       search={"trials": 2})  # fmt: skip
    code, _, err = cli("search", spec, "--out", out)
    assert code == 0, err
    table = trials_csv(out)
    assert len(table) == 2
    for row in table:
        assert row["reason"] == "" and row["accuracy"] != "" and 0.9 * 25e6 <= float(row["flops"]) <= 25e6
        assert 0 < float(row["fit_depth"]) < 1 and float(row["cost_before_fit"]) > 25e6
    best = architecture_from_dict(json.loads((out / "best.json").read_text()))
    sampled = 16 + len(best.stages)  # B0's 16 blocks, one more in every stage
    assert sum(s.repeats for s in best.stages) < sampled


def one_network_space(tmp_path) -> dict[str, Any]:
    """A space of one network: a base whose stages all use kernel 3 and expansion 6, and single choices."""
    b0 = json.loads(preset_path("efficientnet-b0").read_text())
    b0["stages"] = [{**stage, "kernel": 3, "expand": 6} for stage in b0["stages"][:3]]
    b0["name"] = "uniform"
    base = tmp_path / "uniform.json"
    base.write_text(json.dumps(b0))
    return {"base": str(base), "kernel": [3], "expand": [6], "se": [0.25], "layers": [0], "width": [1.0],
            "stem": [1.0], "head": [1.0]}  # fmt: skip


def test_each_network_is_trained_and_verified_once(cli, write_spec, trials_csv, tmp_path):
    # A space of one network: trial 0 trains it, as the naive network; every later trial takes its result.
    one = one_network_space(tmp_path)
    out = tmp_path / "run"
    spec = budget_spec(write_spec, space=one, search={"trials": 4},
                       verify={"enabled": True, "top_k": 3, "seeds": 2, "epochs": 1})  # fmt: skip
    code, stdout, err = cli("search", spec, "--out", out)
    assert code == 0, err
    table = trials_csv(out)
    assert table[0]["warm_start"] == "naive" and table[0]["same_as"] == "" and float(table[0]["train_seconds"]) > 0
    for row in table[1:]:
        assert row["same_as"] == "0" and row["accuracy"] == table[0]["accuracy"] and row["train_seconds"] == ""
    runs = [json.loads(line) for line in (out / "verify.jsonl").read_text().splitlines()]
    verified = [(r["trial"], r["seed"]) for r in runs]
    assert len(verified) == len(set(verified))
    # the one network is verified once, as trial 0, which is also the width rule's naive network (not
    # retrained as such); the other rules' naive networks (negative numbers) are verified beside it
    assert (0, 0) in verified and (0, 1) in verified and -1 not in {n for n, _ in verified}
    assert all(n < 0 for n, _ in verified if n != 0)
    plan = RunPlan.load(spec)
    naive = {rule: architecture_hash(plan.naive(rule).arch) for rule in ("width", "compound", "half_depth")}
    assert len({n for n, _ in verified}) == len(set(naive.values()))  # each distinct network once
    report = (out / "report.md").read_text()
    # trial 0 is the width rule's network: the best trial against it is +0.00 on every seed
    assert "naive `width` (B0 scaled to the budget by the width rule)" in report
    assert "best trial - it: +0.00 points, 95% CI [+0.00, +0.00] (2 seeds)" in report
    assert "the search found nothing better than the strongest naive network" in report  # the space holds one network
    cost = sum(r["seconds"] for r in runs)  # what verification cost: the naive networks' runs too
    assert f"Verification cost {cost:.0f} s of training in {len(runs)} runs (the naive networks' included)" in report
    best = json.loads((out / "best.json").read_text())["metrics"]
    assert best["naive"] is True and best["naive_rule"] in ("width", "compound", "half_depth")
    assert best["versus_naive"]["seeds"] == 2
    assert "verified, best trial against the naive `width` network: +0.00 points" in stdout


def test_one_verification_seed_writes_a_gap_without_an_interval(cli, write_spec, tmp_path):
    out = tmp_path / "run"
    spec = budget_spec(write_spec, space=one_network_space(tmp_path), search={"trials": 1},
                       verify={"enabled": True, "top_k": 1, "seeds": 1, "epochs": 1})  # fmt: skip
    code, _, err = cli("search", spec, "--out", out)
    assert code == 0, err
    gap = json.loads((out / "best.json").read_text())["metrics"]["versus_naive"]
    assert gap["seeds"] == 1 and gap["low"] is None and gap["high"] is None


def test_a_training_aware_search_at_a_budget_is_fitted_and_verified_by_its_reward(
    cli, write_spec, trials_csv, tmp_path
):
    # EfficientNetV2's A * S^w * P^v within the FLOPs band: the naive networks that never ran as
    # trials get S and P measured for their verified reward, as every trial does
    out = tmp_path / "run"
    step = {"batch_size": 4, "resolution": 8, "threads": 1, "warmup": 0, "steps": 1}
    spec = budget_spec(write_spec, space=one_network_space(tmp_path), target={"step": step},
                       objective={"type": "training_aware"}, search={"trials": 2},
                       verify={"enabled": True, "top_k": 1, "seeds": 1, "epochs": 1})  # fmt: skip
    code, _, err = cli("search", spec, "--out", out)
    assert code == 0, err
    table = trials_csv(out)
    assert table[0]["warm_start"] == "naive" and 0.9 * T <= float(table[0]["flops"]) <= T
    assert float(table[0]["reward"]) == pytest.approx(
        training_aware_reward(
            float(table[0]["accuracy"]), float(table[0]["step_ratio"]), float(table[0]["param_ratio"]), w=-0.07, v=-0.05
        )
    )
    runs = [json.loads(line) for line in (out / "verify.jsonl").read_text().splitlines()]
    naive = [r for r in runs if r["trial"] < 0]
    steps = {json.loads(line)["key"].split("|")[0]: json.loads(line)["median_ms"]
             for line in (out / "step_times.jsonl").read_text().splitlines()}  # fmt: skip
    plan = RunPlan.load(spec)
    base_params = count_params(plan.base, num_classes=10)
    assert naive
    for r in naive:  # the verified reward is A * S^w * P^v with the naive network's own measured S and P
        arch = plan.naive(next(rule for rule, n in NAIVE_NUMBERS.items() if n == r["trial"])).arch
        s_ratio = steps[architecture_hash(arch)] / steps[architecture_hash(plan.base)]
        p_ratio = count_params(arch, num_classes=10) / base_params
        assert r["status"] == "ok"
        assert r["reward"] == pytest.approx(training_aware_reward(r["accuracy"], s_ratio, p_ratio, w=-0.07, v=-0.05))


@pytest.mark.parametrize(("target", "message"), [
    ({"lower": "none"}, "target.lower: objective training_aware takes a flops budget only as a band"),
    ({"flops": None, "latency_ms": 5.0}, "target.latency_ms: objective training_aware measures step time itself"),
])  # fmt: skip
def test_a_training_aware_budget_must_be_a_band(write_spec, target, message):
    from nas.spec import SpecError, spec_from_dict

    with pytest.raises(SpecError, match=re.escape(message)):
        spec_from_dict({"objective": {"type": "training_aware"}, "target": {"flops": T, **target}})


def test_pareto_and_unfittable_budgets_are_not_fitted(write_spec):
    from nas.spec import spec_from_dict

    def plan(**target):
        return RunPlan.from_spec(spec_from_dict({"target": target}))

    assert plan(flops=T).fits and plan(params=2e6).fits
    assert not plan(flops=T, lower="none").fits and not plan(latency_ms=5.0).fits
    assert not RunPlan.from_spec(spec_from_dict({"objective": {"type": "pareto"}, "target": {"flops": T}})).fits


@pytest.mark.parametrize(("lower", "message"), [(0.0, "must be in (0, 1]"), (1.5, "must be in (0, 1]")])
def test_bad_lower(cli, write_spec, tmp_path, lower, message):
    code, _, err = cli("search", budget_spec(write_spec, target={"lower": lower}), "--out", tmp_path / "run")
    assert code == 2 and f"target.lower: {message}" in err


def test_naive_contenders_and_the_paired_comparison(write_spec):
    from nas.search.verify import NAIVE, NAIVE_NUMBERS, naive_contender, naive_contenders, versus_naive

    plan = RunPlan.load(budget_spec(write_spec))
    naive = naive_contender(plan)
    assert naive is not None and naive.number == NAIVE and 0.9 * T <= naive.user_attrs["flops"] <= T
    every = naive_contenders(plan)
    assert {rule: c.number for rule, c in every.items()} == NAIVE_NUMBERS  # one network per rule, none over budget
    assert all(c.user_attrs["flops"] <= T and c.user_attrs["naive_rule"] == rule for rule, c in every.items())
    twin = type(naive)(7, {"arch_hash": architecture_hash(plan.naive().arch)})
    assert naive_contender(plan, [twin]).number == 7  # a trial that is the naive network stands for it
    done = {(3, 0): {"accuracy": 0.80, "status": "ok"}, (3, 1): {"accuracy": 0.84, "status": "ok"},
            (NAIVE, 0): {"accuracy": 0.78, "status": "ok"},
            (NAIVE, 1): {"accuracy": 0.80, "status": "failed"}}  # fmt: skip
    versus = versus_naive(3, NAIVE, done)
    # the naive network's seed 1 failed: only seed 0 is paired, and one seed gives no interval
    assert versus is not None and versus.seeds == 1 and versus.mean == pytest.approx(0.02)
    assert versus.text() == "+2.00 points (1 seed, no interval)" and not versus.beats
    assert versus_naive(4, NAIVE, done) is None


def test_warm_start_presets_and_files_run_first_fitted_to_the_budget(cli, write_spec, trials_csv, tmp_path):
    from search_spaces import load_architecture

    k5 = json.loads(preset_path("efficientnet-b0").read_text())
    k5["stages"] = [{**stage, "kernel": 5} for stage in k5["stages"]]
    (tmp_path / "k5.json").write_text(json.dumps(k5))
    # B1 and B2 have the same layer counts (ceil of 1.1x and 1.2x B0's) and uniform widths: one point
    spec = budget_spec(write_spec, search={"trials": 5, "warm_start": ["efficientnet-b2", str(tmp_path / "k5.json"),
                                                                       "efficientnet-b1"]})  # fmt: skip
    out = tmp_path / "run"
    code, stdout, err = cli("search", spec, "--out", out)
    assert code == 0, err
    assert "efficientnet-b1 is the same point of the space as an earlier one; not enqueued twice" in stdout
    table = trials_csv(out)
    # every naive rule's network first (the budgeted space holds them all), then the given warm starts
    assert [r["warm_start"] for r in table] == ["naive", "naive-compound", "naive-half_depth", "efficientnet-b2",
                                                str(tmp_path / "k5.json")]  # fmt: skip
    plan = RunPlan.load(spec)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{out / 'study.db'}")
    for number, ref in ((3, "efficientnet-b2"), (4, str(tmp_path / "k5.json"))):
        # B2 is B0 with 1.1x the widths and more layers: the fit removes the uniform width
        fitted = plan.fit(plan.space.decode(plan.space.params_of(load_architecture(ref))))
        trained = architecture_from_dict(study.trials[number].user_attrs["architecture"])
        assert architecture_hash(trained) == architecture_hash(fitted.arch)
        assert 0.9 * T <= float(table[number]["flops"]) <= T


@pytest.mark.parametrize(
    ("warm", "message"),
    [
        ("efficientnet-b4", "search.warm_start[0]: efficientnet-b4 is not a point of the mbconv space: s2.layers 4 "
                            "is not among the space's choices [1, 2, 3]"),
        ("efficientnetv2-s", "has 6 stages; the space around efficientnet-b0 has 7"),
        ("no/such.json", "search.warm_start[0]: "),
    ],
)  # fmt: skip
def test_a_warm_start_outside_the_space_is_a_spec_error(cli, write_spec, tmp_path, warm, message):
    out = tmp_path / "run"
    code, _, err = cli("search", budget_spec(write_spec, search={"warm_start": [warm]}), "--out", out)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_rungs_promote_the_best_third_and_meet_the_naive_networks_on_the_last(cli, write_spec, tmp_path, monkeypatch):
    """Successive halving: every candidate on rung 1, the best third of them (by a stub's score)
    on rung 2, which decides, and the naive networks on rung 2 alone; resume runs nothing."""
    import nas.search.verify

    def score(arch: Any) -> float:  # a fixed, distinct score per network
        return 0.5 + int(architecture_hash(arch)[:6], 16) / 16**6 / 2

    calls: list[tuple[str, int, int]] = []

    def stub(arch, data, plan, seed, rung=0):
        calls.append((architecture_hash(arch), seed, rung))
        return score(arch) - 0.01 * rung, 0.01, ""

    monkeypatch.setattr(nas.search.verify, "verify_accuracy", stub)
    rungs = [{"epochs": 1, "train_size": 300}, {"epochs": 2}]
    spec = budget_spec(write_spec, search={"trials": 6},
                       verify={"enabled": True, "top_k": 4, "seeds": 2, "rungs": rungs})  # fmt: skip
    out = tmp_path / "run"
    code, stdout, err = cli("search", spec, "--out", out)
    assert code == 0, err
    runs = [json.loads(line) for line in (out / "verify.jsonl").read_text().splitlines()]
    on = {rung: {r["trial"] for r in runs if r["rung"] == rung} for rung in (0, 1)}
    assert all(sum(1 for r in runs if (r["trial"], r["rung"]) == (t, rung) and r["status"] == "ok") == 2
               for rung in (0, 1) for t in on[rung])  # fmt: skip
    plan = RunPlan.load(out / "spec.yaml")
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{out / 'study.db'}")
    attrs = {t.number: t.user_attrs for t in study.trials}
    naive_hash = {number: architecture_hash(plan.naive(rule).arch) for rule, number in NAIVE_NUMBERS.items()}
    naive = set(naive_hash.values())

    def is_naive(number: int) -> bool:
        return number < 0 or attrs[number]["arch_hash"] in naive

    climbing = sorted((n for n in on[0] if not is_naive(n)), key=lambda n: -score(
        architecture_from_dict(attrs[n]["architecture"])))  # fmt: skip
    assert len(climbing) >= 2 and not any(is_naive(n) for n in on[0])
    assert {naive_hash[n] if n < 0 else attrs[n]["arch_hash"] for n in on[1] if is_naive(n)} == naive
    promoted = climbing[: -(-len(climbing) // 3)]  # the best third, rounded up
    assert {n for n in on[1] if not is_naive(n)} == set(promoted)
    assert "rung 1 promotes trials" in stdout and "rung 2/2" in stdout
    best = json.loads((out / "best.json").read_text())["metrics"]
    assert best.get("trial") in on[1] or best["naive"] is True
    report = (out / "report.md").read_text()
    assert "## Verification rungs (the best 33% go on after each)" in report and "rung 2: 2 epochs" in report
    entered, last = sorted(n for n in on[0] | on[1] if n >= 0), sorted(n for n in on[1] if n >= 0)
    assert f"## Verification (top {len(entered)} by proxy reward, {len(last)} on the last rung)" in report
    assert yaml.safe_load((out / "spec.yaml").read_text())["verify"]["epochs"] == 2  # the last rung's
    calls.clear()
    code, stdout, err = cli("search", "--resume", "--out", out)
    assert code == 0 and calls == [], err
