"""The Ray executor's one reach into OptunaSearch internals, checked without starting Ray."""

from __future__ import annotations

import json

import pytest

from nas.plan import RunPlan
from nas.search.ray_executor import KNOWN, METRICS, _DefineByRun, _mark_completed, _optuna_trial, _searcher_class
from nas.spec import spec_from_dict

pytest.importorskip("ray.tune.search.optuna")


def test_optuna_search_still_offers_what_the_executor_reads():
    """``_optuna_trial`` and ``_mark_completed`` read OptunaSearch's private state; this fails if Ray drops it."""
    plan = RunPlan.from_spec(spec_from_dict({"target": {"flops": 1e8}}))
    searcher = _searcher_class()(space=_DefineByRun(plan.space), metric=METRICS[0], mode=plan.objective.modes[0])
    config = searcher.suggest("t1")
    assert config and set(config) == {*plan.space.choices(), KNOWN}  # the sampled choices, and what is trained
    assert json.loads(config[KNOWN]) == {"trained": {}, "screen": [[], []]}
    found = _optuna_trial(searcher, "t1")
    assert found is not None
    study, trial = found
    assert study.trials[0].number == trial.number
    _mark_completed(searcher, "t1")
    assert _optuna_trial(searcher, "t1") is None  # told once only
    assert _optuna_trial(searcher, "never-suggested") is None
