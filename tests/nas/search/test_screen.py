"""Cheap estimators, screening (``proxy.screen``), and the Hyperband pruner with its rung metric."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from nas.measure.estimators import ESTIMATORS, estimate
from nas.search.screen import ScreenHistory, decide, screen_history
from nas.spec import ScreenSpec
from nas.training.data import DataSpec, load_dataset
from search_spaces import count_flops, count_params, load_architecture


def test_estimators_are_finite_seeded_and_the_counts_exact(tiny):
    arch = load_architecture(tiny)
    data = load_dataset(DataSpec("digits"), seed=0)

    def score(name, seed=0):
        return estimate(name, arch, data, resolution=8, target_resolution=32, num_classes=1000, batch_size=16,
                        seed=seed).value  # fmt: skip

    for name in ESTIMATORS:
        assert math.isfinite(score(name)) and score(name) == score(name), name  # the same seed, the same score
    assert score("params") == count_params(arch, num_classes=1000)
    assert score("flops") == count_flops(arch, resolution=32, num_classes=1000)
    assert score("synflow") > 0 and score("snip") > 0 and score("grad_norm") > 0
    assert score("snip", seed=1) != score("snip")  # another initialisation and minibatch
    with pytest.raises(ValueError, match="estimator: must be one of synflow"):
        score("jacob")


def _trial(number, score, accuracy, state=TrialState.COMPLETE, same_as=None):
    attrs = {"screen_score": score, "accuracy": accuracy}
    if same_as is not None:
        attrs["same_as"] = same_as
    trial = create_trial(state=state, value=0.0 if state == TrialState.COMPLETE else None, user_attrs=attrs)
    trial.number = number
    return trial


def test_screen_history_counts_scores_and_trained_candidates():
    trials = [_trial(0, 3.0, 0.9), _trial(1, 1.0, None), _trial(2, 2.0, 0.5, state=TrialState.PRUNED),
              _trial(3, 4.0, 0.9, same_as=0), _trial(4, 0.5, 0.2)]  # fmt: skip
    history = screen_history(trials)
    assert history.scores == (3.0, 1.0, 2.0, 4.0, 0.5)
    assert history.trained == ((3.0, 0.9), (0.5, 0.2))  # not the pruned, untrained or repeated ones
    assert ScreenHistory.from_wire(history.to_wire()) == history and history.tau() == 1.0


def test_decide_warm_up_keep_share_and_stop():
    spec = ScreenSpec(estimator="params", keep=0.5, warmup=3, min_tau=0.2)
    warm = ScreenHistory((1.0, 2.0), ((1.0, 0.1), (2.0, 0.2)))
    assert decide(spec, 0.0, warm).train and "warm-up: 2 of 3" in decide(spec, 0.0, warm).note
    agreeing = ScreenHistory((1.0, 2.0, 3.0, 4.0, 5.0), ((1.0, 0.1), (2.0, 0.2), (3.0, 0.3)))
    assert decide(spec, 4.5, agreeing).train  # 4.5 is in the top half of 6 scores
    out = decide(spec, 1.5, agreeing)
    assert not out.train and out.tau == 1.0
    assert out.note == "screened out: params 1.5 below the top 50% of 6 scored (>= 3); tau so far 1.00"
    disagreeing = ScreenHistory((1.0, 2.0, 3.0), ((1.0, 0.3), (2.0, 0.2), (3.0, 0.1)))
    stop = decide(spec, 0.0, disagreeing)
    assert stop.train and stop.note.startswith("screening stopped: Kendall tau -1.00") and stop.tau == -1.0


def test_screened_search_from_the_cli(cli, write_spec, trials_csv, tmp_path):
    # params as the screen: deterministic and instant; the first 3 candidates train, then only
    # those in the top half of all scores so far
    screen = {"estimator": "params", "keep": 0.5, "warmup": 3, "min_tau": -1.0}
    spec = write_spec(proxy={"screen": screen}, search={"trials": 10, "sampler": "random"})
    out = tmp_path / "run"
    code, _, err = cli("search", spec, "--out", out)
    assert code == 0, err
    table = trials_csv(out)
    assert all(row["screen_score"] for row in table)
    screened = [r for r in table if "screened out" in r["reason"]]
    assert screened and all(r["train_seconds"] == "" and float(r["reward"]) == 0 for r in screened)
    assert all(r["accuracy"] for r in table[:3])  # the warm-up trains every candidate
    report = (out / "report.md").read_text()
    assert "screen: `params` scored 10 candidates in" in report and f"screened out {len(screened)};" in report


def test_screening_stops_with_a_warning_when_its_rank_correlation_is_low(cli, write_spec, trials_csv, tmp_path):
    screen = {"estimator": "params", "keep": 0.3, "warmup": 2, "min_tau": 1.0}  # only a perfect order passes
    spec = write_spec(proxy={"screen": screen}, search={"trials": 12, "sampler": "random"})
    out = tmp_path / "run"
    code, stdout, err = cli("search", spec, "--out", out)
    assert code == 0, err
    assert "warning: screening stopped: Kendall tau" in stdout and "every later candidate is trained" in stdout
    table = trials_csv(out)
    first = next(i for i, r in enumerate(table) if r["screen"].startswith("screening stopped"))
    assert first >= 2 and not any("screened out" in r["reason"] for r in table[first:])  # all trained from then on
    assert all(r["accuracy"] for r in table[first:])
    assert f"so screening stopped at trial {table[first]['number']}" in (out / "report.md").read_text()


def test_hyperband_prunes_on_the_training_loss_sum(cli, write_spec, tmp_path):
    spec = write_spec(proxy={"epochs": 3}, search={"trials": 4, "pruner": "hyperband", "prune_on": "tse"})
    out = tmp_path / "run"
    code, _, err = cli("search", spec, "--out", out)
    assert code == 0, err
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{out / 'study.db'}")
    values = [v for t in study.trials for v in t.intermediate_values.values()]
    assert values and all(v < 0 for v in values)  # -(sum of the mean training losses so far)
    steps = [sorted(t.intermediate_values) for t in study.trials if t.intermediate_values]
    assert all(s == list(range(1, len(s) + 1)) for s in steps)


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"prune_on": "loss"}, "search.prune_on: must be reward or tse, got 'loss'"),
        ({"pruner": "hyperband", "executor": "ray"}, "search.pruner: with executor ray must be asha, none"),
    ],
)
def test_bad_pruning_settings(cli, write_spec, tmp_path, search, message):
    code, _, err = cli("search", write_spec(search=search), "--out", tmp_path / "run")
    assert code == 2 and message in err


def test_screening_in_a_pareto_search_gives_both_objective_values(cli, write_spec, tmp_path):
    # a screened-out candidate is untrained: accuracy 0 at its cost, a dominated point of the
    # two-objective study (one value would fail the trial in Optuna)
    screen = {"estimator": "params", "keep": 0.2, "warmup": 2, "min_tau": -1.0}
    spec = write_spec(objective={"type": "pareto"}, proxy={"screen": screen},
                      search={"trials": 8, "sampler": "random", "pruner": "none"})  # fmt: skip
    out = tmp_path / "run"
    code, _, err = cli("search", spec, "--out", out)
    assert code == 0, err
    trials = optuna.load_study(storage=f"sqlite:///{out / 'study.db'}", study_name="s").trials
    screened = [t for t in trials if str(t.user_attrs.get("screen", "")).startswith("screened out")]
    assert screened and all(t.state.name == "COMPLETE" for t in trials)
    for t in screened:
        assert t.values == [0.0, t.user_attrs["cost"]] and t.user_attrs["accuracy"] is None
