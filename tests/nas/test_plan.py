"""The run plan: resolved once from the spec, and rebuilt identically from its wire form."""

from __future__ import annotations

import pickle

import pytest

from nas.plan import RunPlan
from nas.spec import spec_from_dict
from scaling import NAIVE_RULES


def plan_of(**sections) -> RunPlan:
    return RunPlan.from_spec(spec_from_dict({"name": "p", "seed": 7, **sections}))


def test_plan_resolves_every_part_once():
    plan = plan_of(target={"flops": 1e8, "resolution": 192}, proxy={"epochs": 2, "threads": 1})
    assert plan.space.base.resolution == 192  # the space's base moves to the target resolution
    assert plan.objective.budget == 1e8 and plan.objective.kind == "mnas" and plan.cost_metric == "flops"
    assert plan.train.seed == 7 and plan.train.epochs == 2 and plan.train.threads == 1
    assert plan.step.resolution == 192  # step time measured at the target's resolution unless given
    assert plan.data.dataset == "digits" and not plan.measures_steps


def test_training_aware_plan_measures_steps_at_its_own_settings():
    plan = plan_of(space={"type": "training_aware"}, objective={"type": "training_aware"},
                   target={"step": {"resolution": 64, "batch_size": 4}})  # fmt: skip
    assert plan.objective.uses_ratios and plan.measures_steps and plan.cost_metric == "step_time"
    assert (plan.step.resolution, plan.step.batch_size) == (64, 4)
    assert plan.space.conditional and not plan_of(target={"flops": 1e8}).space.conditional


@pytest.mark.parametrize(
    "sections",
    [
        {"target": {"flops": 1e8}},
        {"objective": {"type": "pareto"}, "target": {"params": 2e6}, "search": {"sampler": "random"}},
        {"space": {"type": "training_aware"}, "objective": {"type": "training_aware", "w": -0.1}},
        {"target": {"flops": 1e8}, "proxy": {"progressive": {"stages": 2}, "schedule": "cosine", "train_size": 500}},
    ],
)
def test_wire_round_trip_rebuilds_the_same_plan(sections):
    plan = plan_of(**sections)
    wire = plan.to_wire()
    assert pickle.loads(pickle.dumps(wire)) == wire  # plain data: what a spawned process or Ray receives
    again = RunPlan.from_wire(wire)
    assert again == plan


def test_scale_plans_need_no_budget_and_travel_as_such():
    plan = RunPlan.from_spec(spec_from_dict({"name": "g"}, purpose="scale"), purpose="scale")
    assert plan.objective.budget is None and RunPlan.from_wire(plan.to_wire()).purpose == "scale"


def test_verification_recipe_follows_the_proxy():
    plan = plan_of(target={"flops": 1e8}, proxy={"epochs": 3, "progressive": {"stages": 3}},
                   verify={"epochs": 2})  # fmt: skip
    recipe = plan.verify_train(seed=11)
    assert (recipe.epochs, recipe.seed, recipe.lr) == (2, 11, plan.train.lr)
    assert recipe.progressive is not None and recipe.progressive.stages == 2  # at most one stage per epoch


@pytest.mark.parametrize("budget", [25e6, 100e6])
def test_a_budgeted_space_holds_every_naive_network(budget):
    """Left out, a budgeted search's depth choices span the naive networks (one block per stage
    for B0 compound-scaled down) and one block above: each rule's network is a point of the space."""
    plan = RunPlan.from_spec(spec_from_dict({"target": {"flops": budget}}))
    assert min(plan.spec.space.layers) <= -2 and max(plan.spec.space.layers) == 1
    for rule in NAIVE_RULES:
        naive = plan.naive(rule).arch
        params = plan.space.params_of(naive, uniform=True)  # raises, naming the choice, if it is not a point
        assert [s.repeats for s in plan.space.decode(params).stages] == [s.repeats for s in naive.stages]
    assert all(min(plan.space.stage_layers(i)) == 1 for i in range(len(plan.base.stages)))


def test_given_layers_and_unbudgeted_spaces_keep_their_depth_choices():
    assert spec_from_dict({"target": {"flops": 1e8}, "space": {"layers": [-1, 0, 1]}}).space.layers == (-1, 0, 1)
    assert spec_from_dict({"target": {"flops": 1e8}, "objective": {"type": "pareto"}}).space.layers == (-1, 0, 1)
    assert spec_from_dict({"target": {"flops": 1e8, "lower": "none"}}).space.layers == (-1, 0, 1)
