"""The study and its storage: URLs in logs, and the one place Optuna internals are read."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from nas.search.study import fail_trials, redacted_url, trial_handle


def test_storage_urls_are_logged_without_credentials():
    assert (
        redacted_url("postgresql://effnas:secret@db.example:5432/effnas") == "postgresql://***@db.example:5432/effnas"
    )
    assert redacted_url("sqlite:////tmp/run/study.db") == "sqlite:////tmp/run/study.db"
    assert redacted_url("/tmp/run/study.journal") == "/tmp/run/study.journal"


def test_optuna_still_offers_what_fail_trials_reads():
    """``trial_handle`` reads two private attributes of Optuna; this fails if Optuna drops them."""
    study = optuna.create_study()
    trial = study.ask()
    frozen = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))[0]
    storage, trial_id = trial_handle(study, frozen)
    assert isinstance(storage, optuna.storages.BaseStorage) and trial_id == trial._trial_id
    assert fail_trials(study, [frozen], "interrupted: test") == 1
    (failed,) = study.trials
    assert failed.state == TrialState.FAIL and failed.user_attrs["fail_reason"] == "interrupted: test"
    assert fail_trials(study, [frozen], "again") == 0  # already finished: left alone
