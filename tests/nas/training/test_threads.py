"""One rule for a worker's threads, and one way to change them for a while."""

from __future__ import annotations

import os

import pytest
import torch

from nas.training.data import load_dataset
from nas.training.threads import torch_threads, worker_threads
from nas.training.train import TrainConfig, train
from search_spaces import load_architecture


def test_worker_threads_rule():
    cores = os.cpu_count() or 1
    assert worker_threads(1) == cores and worker_threads(cores * 4) == 1  # shared out, at least one each
    assert worker_threads(2, given=3) == 3  # proxy.threads wins
    assert worker_threads(cpus=2.5) == 2 and worker_threads(cpus=0.5) == 1  # a Ray trial's cpus, rounded down


def test_torch_threads_restores_the_callers_count_even_on_error():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


def test_training_with_threads_leaves_the_process_as_it_was(tiny):
    before = torch.get_num_threads()
    data = load_dataset("digits")
    result = train(load_architecture(tiny), data, TrainConfig(epochs=1, resolution=8, threads=1, batch_size=64))
    assert result.status == "ok" and torch.get_num_threads() == before
