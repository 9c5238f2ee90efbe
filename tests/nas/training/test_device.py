"""The device setting: names, resolution on this machine, precision, and training that reaches it."""

from __future__ import annotations

import pytest
import torch

from nas.training.data import DataSpec, load_dataset
from nas.training.device import DeviceError, amp_dtype, device_problem, resolve_device
from nas.training.train import TrainConfig, train
from search_spaces import load_architecture


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_names(name):
    assert device_problem(name) is None


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:-1", "cpu:0", "", "cuda:1234"])
def test_bad_device_names(name):
    assert device_problem(name) == "must be auto, cpu, cuda or cuda:N"
    with pytest.raises(DeviceError, match="device: must be auto, cpu, cuda or cuda:N"):
        resolve_device(name)
    with pytest.raises(ValueError, match="device: must be auto, cpu, cuda or cuda:N"):
        TrainConfig(device=name)


def test_resolution_on_a_machine_without_and_with_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceError, match=r"device: cuda:1 is not available on this machine \(torch.cuda"):
        resolve_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(DeviceError, match=r"device: cuda:2 is not available on this machine \(2 GPU\(s\)\)"):
        resolve_device("cuda:2")


def test_precision_per_device():
    assert amp_dtype(torch.device("cpu")) is None
    assert amp_dtype(torch.device("cuda", 0), bf16_supported=True) == torch.bfloat16
    assert amp_dtype(torch.device("cuda", 0), bf16_supported=False) == torch.float16  # with a gradient scaler


def test_training_reaches_the_device_setting(tiny, monkeypatch):
    data = load_dataset(DataSpec("digits"), seed=0)
    arch = load_architecture(tiny)
    config = TrainConfig(epochs=1, batch_size=64, resolution=8, threads=1, device="cpu")
    result = train(arch, data, config)
    assert result.status == "ok" and result.device == "cpu" and result.precision == "float32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    missing = train(arch, data, TrainConfig(epochs=1, batch_size=64, resolution=8, threads=1, device="cuda"))
    assert missing.status == "failed" and "device: cuda is not available on this machine" in missing.reason


def test_nas_train_names_a_missing_gpu(cli, tiny, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = cli("train", tiny, "--data", "digits", "--epochs", "1", "--device", "cuda:0")
    assert code == 2 and "--device: cuda:0 is not available on this machine" in err and len(err.splitlines()) == 1
