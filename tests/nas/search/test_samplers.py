"""Regularized evolution and local search as Optuna samplers (``nas.search.samplers``)."""

from __future__ import annotations

import optuna
import pytest

from nas.search.samplers import MutationSampler
from nas.spec import SpecError, spec_from_dict

CHOICES = [0, 1, 2, 3]
NAMES = [f"p{i}" for i in range(10)]


def _objective(trial: optuna.Trial) -> float:
    """A separable toy landscape: the best point takes choice 3 everywhere (value 30)."""
    return float(sum(trial.suggest_categorical(name, CHOICES) for name in NAMES))


def _study(sampler: optuna.samplers.BaseSampler, trials: int) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective, n_trials=trials)
    return study


@pytest.mark.parametrize("mode", ["evolution", "local"])
def test_after_startup_each_proposal_is_one_mutation_of_a_finished_trial(mode):
    study = _study(MutationSampler(mode, seed=0, population=8, sample=3, startup=5), 40)
    trials = study.trials
    for i, t in enumerate(trials[5:], start=5):
        distances = [sum(t.params[n] != p.params[n] for n in NAMES) for p in trials[:i]]
        assert 1 in distances, f"trial {i} is not one mutation away from any earlier trial"
    if mode == "local":  # the parent is the incumbent: the best trial before it
        for i, t in enumerate(trials[5:], start=5):
            best = max(trials[:i], key=lambda p: (p.value, -p.number))
            assert sum(t.params[n] != best.params[n] for n in NAMES) == 1


@pytest.mark.parametrize("mode", ["evolution", "local"])
def test_mutation_climbs_where_random_does_not(mode):
    """On a separable landscape, 60 trials of mutation beat 60 random draws (same seeds)."""
    for seed in range(3):
        mutated = _study(MutationSampler(mode, seed=seed, population=10, sample=3, startup=5), 60).best_value
        random = _study(optuna.samplers.RandomSampler(seed=seed), 60).best_value
        assert mutated > random


def test_the_same_seed_proposes_the_same_trials():
    first = [t.params for t in _study(MutationSampler("evolution", seed=3, startup=4), 20).trials]
    again = [t.params for t in _study(MutationSampler("evolution", seed=3, startup=4), 20).trials]
    assert first == again


def test_mutation_samplers_are_for_one_objective():
    with pytest.raises(SpecError, match=r"search\.sampler: evolution is for one-objective searches"):
        spec_from_dict({"objective": {"type": "pareto"}, "search": {"sampler": "evolution"}})
    with pytest.raises(SpecError, match=r"search\.sampler: must be tpe, nsga2, random, evolution or local"):
        spec_from_dict({"target": {"flops": 1e8}, "search": {"sampler": "annealing"}})
    with pytest.raises(ValueError, match="mode"):
        MutationSampler("genetic")


@pytest.mark.parametrize("sampler", ["evolution", "local"])
def test_a_search_runs_with_each_mutation_sampler(write_spec, cli, tmp_path, trials_csv, sampler):
    spec = write_spec(search={"trials": 5, "sampler": sampler})
    code, out, err = cli("search", spec, "--out", tmp_path / "r")
    assert code == 0, err
    assert f"{sampler} sampler" in out and len(trials_csv(tmp_path / "r")) == 5
