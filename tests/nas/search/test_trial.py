"""One trial's evaluation: costs at the target, the step-time cache."""

from __future__ import annotations

import optuna

from nas.plan import RunPlan
from nas.search.trial import TrialEvaluator

STEP = {"batch_size": 4, "resolution": 16, "warmup": 1, "steps": 3}


def test_cached_step_time_is_a_hit(write_spec, tmp_path):
    path = write_spec(space={"type": "training_aware", "width": None},
                      target={"flops": None, "step": STEP}, objective={"type": "training_aware"})  # fmt: skip
    plan = RunPlan.load(path)
    first = TrialEvaluator(plan, tmp_path)
    arch = plan.space.sample(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask())
    costs = first.cost(arch)
    assert costs["step_ratio"] > 0 and first.step_cache.hits == 0
    second = TrialEvaluator(plan, tmp_path)
    assert second.cost(arch) == costs and second.step_cache.hits == 2
