"""Rank agreement between two seeds of a ground-truth table."""

from __future__ import annotations

import pytest

from nas.measure import ranking


def test_seed_agreement_ranks_one_seed_against_the_other():
    networks = [{"test": [0.80, 0.81]}, {"test": [0.85, 0.84]}, {"test": [0.90, 0.91]}, {"test": [0.70]}]
    agreement = ranking.seed_agreement(networks)
    assert agreement == {"tau": pytest.approx(1.0), "rho": pytest.approx(1.0), "n": 3}  # the one-seed row is left out
    swapped = [{"test": [0.80, 0.85]}, {"test": [0.85, 0.80]}, {"test": [0.90, 0.91]}]
    assert ranking.seed_agreement(swapped)["tau"] == pytest.approx(1 / 3)
    assert ranking.seed_agreement(networks[:2]) is None
