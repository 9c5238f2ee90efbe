"""``nas train``: outputs, saved weights, ``--evaluate``, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
SMALL = str(ROOT / "experiments/archs/small-mbconv.json")
FAST = ["--data", "digits", "--epochs", "2", "--batch-size", "32", "--resolution", "16", "--threads", "1"]


def test_train_writes_outputs_and_evaluates(cli, capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = cli("train", SMALL, *FAST, "--out", str(out_dir), "--evaluate")
    assert code == 0, err
    assert "epoch 1/2" in out and "epoch 2/2" in out and "img/s" in out and "left" in out
    assert "test accuracy" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and len(metrics["history"]) == 2
    assert metrics["test_accuracy"] > 0.8 and metrics["config"]["epochs"] == 2
    from safetensors import safe_open
    from safetensors.torch import load_file

    weights = out_dir / "model.safetensors"
    state = load_file(weights)
    assert "classifier.weight" in state
    card = json.loads((out_dir / "card.json").read_text())
    with safe_open(str(weights), framework="pt") as handle:  # the header names the network, as the card does
        assert handle.metadata()["architecture_hash"] == card["architecture_hash"]
    assert card["format"] == "effnas.card/1" and card["weights"] == "model.safetensors"
    assert card["metrics"]["test_accuracy"] == metrics["test_accuracy"] and card["recipe"]["epochs"] == 2
    assert card["input"]["channels"] == 1 and card["input"]["resolution"] == 16
    assert len(card["classes"]) == 10 and card["versions"]["torch"] == torch.__version__
    # Evaluate the saved weights on the test split: same number as at the end of training; a legacy
    # weights.pt (torch.save of the state dict) is read too, with weights_only.
    torch.save(state, tmp_path / "weights.pt")
    for saved in (weights, tmp_path / "weights.pt"):
        code, out, _ = cli("train", SMALL, *FAST, "--evaluate", "--weights", str(saved))
        assert code == 0
        assert f"test accuracy {100 * metrics['test_accuracy']:.2f}%" in out
    assert all(t.device.type == "cpu" for t in state.values())  # loadable on a machine without a GPU
    # ONNX with the trained weights: digits' 10 classes and one input channel come from the weights themselves
    ort = pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "m.onnx"
    code, out, err = cli("export", out_dir / "architecture.json", "--format", "onnx", "--weights",
                         weights, "--resolution", 16, "--out", onnx_path)  # fmt: skip
    assert code == 0 and "input 1x1x16x16, 10 classes" in out, err
    from search_spaces import build_model, load_architecture

    model = build_model(load_architecture(str(out_dir / "architecture.json")), num_classes=10, in_channels=1).eval()
    model.load_state_dict(state)
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    exported = ort.InferenceSession(str(onnx_path)).run(None, {"images": x.numpy()})[0]
    assert torch.allclose(torch.from_numpy(exported), model(x).detach(), atol=1e-4)
    code, _, err = cli("export", out_dir / "architecture.json", "--format", "onnx", "--weights",
                       weights, "--num-classes", 1000, "--out", tmp_path / "n.onnx")  # fmt: skip
    assert code == 2 and "--num-classes: " in err and "has 10 classes, got 1000" in err
    # timm: arch_def and the same tensors under timm's names
    code, out, err = cli("export", out_dir / "architecture.json", "--format", "timm", "--weights", weights,
                         "--out", tmp_path / "timm")  # fmt: skip
    assert code == 0, err
    config = json.loads((tmp_path / "timm" / "timm.json").read_text())
    assert config["num_classes"] == 10 and config["in_chans"] == 1 and config["arch_def"]
    from search_spaces.timm_weights import from_timm_state_dict

    timm_state = load_file(tmp_path / "timm" / "model.safetensors")
    assert "conv_stem.weight" in timm_state and "stem.0.weight" not in timm_state
    back = from_timm_state_dict(load_architecture(str(out_dir / "architecture.json")), timm_state)
    assert back.keys() == state.keys() and all(torch.equal(back[k], state[k]) for k in state)


def test_progressive_prints_the_schedule(cli, capsys):
    code, out, _ = cli("train", SMALL, *FAST, "--progressive", "--stages", "2", "--min-size", "8")
    assert code == 0
    assert "progressive learning" in out
    assert "8px" in out and "16px" in out


def test_failed_run_exits_1(cli, capsys, tmp_path):
    argv = [*FAST, "--optimizer", "sgd", "--lr", "1e12", "--schedule", "constant", "--weight-decay", "0"]
    code, out, _ = cli("train", SMALL, *argv, "--out", str(tmp_path / "r"))
    assert code == 1 and "failed" in out and "non-finite training loss" in out
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["status"] == "failed"
    assert not (tmp_path / "r" / "model.safetensors").exists() and not (tmp_path / "r" / "card.json").exists()


BAD = [
    (["--data", "nosuch"], "neither a dataset name"),
    (["--data", "digits", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
    (["--data", "digits", "--epochs", "2", "--progressive", "--stages", "3"], "--stages: must be in [1, epochs=2]"),
    (["--data", "digits", "--lr", "-1"], "--lr: must be a finite number >= 0"),
    (["--data", "digits", "--randaug", "40"], "--randaug: must be in [0, 30), got 40.0"),
    (["--data", "digits", "--weights", "w.pt"], "--weights: only used with --evaluate"),
    (["--data", "digits", "--evaluate", "--weights", "/nonexistent.pt"], "--weights: /nonexistent.pt does not exist"),
    (["--data", "digits", "--train-size", "5000"], "train_size: 5000 exceeds"),
    (["--data", "npz:/nonexistent.npz"], "/nonexistent.npz does not exist"),
    ([], "--data"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(b[0]) or "none" for b in BAD])
def test_bad_input_exits_2(cli, capsys, argv, message):
    code, _, err = cli("train", SMALL, *argv)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1


def test_weights_that_do_not_fit(cli, capsys, tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"nope": torch.zeros(1)}, path)
    code, _, err = cli("train", SMALL, "--data", "digits", "--evaluate", "--weights", str(path))
    assert code == 2 and "does not fit small-mbconv" in err
    path.write_bytes(b"junk")
    code, _, err = cli("train", SMALL, "--data", "digits", "--evaluate", "--weights", str(path))
    assert code == 2 and "cannot load" in err


def test_existing_output_directory_is_refused(cli, capsys, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = cli("train", SMALL, *FAST, "--out", str(tmp_path))
    assert code == 2 and "already exists" in err
    assert (tmp_path / "keep.txt").read_text() == "mine"
