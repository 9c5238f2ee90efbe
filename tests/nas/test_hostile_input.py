"""Hostile and broken input: every case fails fast and small, with exit 2 and one line on stderr.

The cases of each class: data files that are not what they claim (devices, bombs, huge
declared shapes, stray labels), arguments and specs that would exhaust memory, files that
do not parse, storage that cannot be reached, and runs resumed with an edited spec.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from search_spaces import preset_path

ROOT = Path(__file__).resolve().parents[2]
SMALL = str(ROOT / "experiments/archs/small-mbconv.json")


def one_line_exit_2(result: tuple[int, str, str], *needles: str) -> str:
    code, _, err = result
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def train(cli, data: str, *extra: str) -> tuple[int, str, str]:
    return cli("train", SMALL, "--data", data, "--epochs", "1", "--resolution", "8", "--threads", "1", *extra)


def idx(dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


# --------------------------------------------------------------------------- data files


def test_cifar_batch_that_is_a_device_a_folder_or_a_loop(cli, tmp_path):
    root = tmp_path / "cifar"
    root.mkdir()
    (root / "test_batch.bin").write_bytes(bytes(3073))
    (root / "data_batch_1.bin").symlink_to("/dev/zero")
    started = time.perf_counter()
    one_line_exit_2(train(cli, f"cifar10:{root}"), "is not a regular file")
    assert time.perf_counter() - started < 10
    (root / "data_batch_1.bin").unlink()
    (root / "data_batch_1.bin").mkdir()
    one_line_exit_2(train(cli, f"cifar10:{root}"), "is not a regular file")
    (root / "data_batch_1.bin").rmdir()
    (root / "data_batch_1.bin").symlink_to(root / "data_batch_1.bin")  # a link to itself
    one_line_exit_2(train(cli, f"cifar10:{root}"), "is not a regular file")
    one_line_exit_2(train(cli, f"cifar10:{root / 'test_batch.bin'}"), "is not a directory")


def test_cifar_meta_that_is_not_utf8(cli, tmp_path):
    root = tmp_path / "cifar"
    root.mkdir()
    for name in ("data_batch_1.bin", "test_batch.bin"):
        (root / name).write_bytes(bytes([0]) + bytes(3072) + bytes([1]) + bytes(3072))
    (root / "batches.meta.txt").write_bytes(b"\xff\xfe\x00bad")
    one_line_exit_2(train(cli, f"cifar10:{root}"), "cannot read")


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (gzip.compress(idx((10, 28, 28), bytes(10 * 28 * 28)))[:-20], "cannot read"),  # truncated gzip
        (b"\x1f\x8b" + bytes(40), "cannot read"),  # corrupt gzip
        (gzip.compress(bytes([0, 0, 8, 0])), "declares 0 dimensions"),
        (gzip.compress(bytes([0, 0, 8, 255]) + bytes(1020)), "declares 255 dimensions"),
        (gzip.compress(idx((60000, 60000, 60000), b"")), "over the limit"),  # declared far too large
        (gzip.compress(idx((10, 28, 28), bytes(200 * 2**20))), "holds more bytes"),  # a bomb: 200 MB of zeros
    ],
)
def test_idx_files_that_lie(cli, tmp_path, images, message):
    root = tmp_path / "mnist"
    root.mkdir()
    (root / "train-images-idx3-ubyte.gz").write_bytes(images)
    labels = gzip.compress(idx((10,), bytes(range(10))))
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (root / name).write_bytes(labels)
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx((10, 28, 28), bytes(10 * 28 * 28))))
    one_line_exit_2(train(cli, f"mnist:{root}"), message)


def npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_files_that_lie(cli, tmp_path):
    x = np.zeros((20, 8, 8), np.uint8)
    y = np.arange(20) % 2
    one_line_exit_2(train(cli, f"npz:{npz(tmp_path / 'one.npz', x=x, y=np.zeros(20, int))}"), "at least 2 classes")
    stray = y.copy()
    stray[0] = 30_000_000
    started = time.perf_counter()
    one_line_exit_2(train(cli, f"npz:{npz(tmp_path / 'stray.npz', x=x, y=stray)}"), "the class limit")
    assert time.perf_counter() - started < 10
    empty = npz(tmp_path / "empty.npz", x=x, y=y, x_test=x[:0], y_test=y[:0])
    one_line_exit_2(train(cli, f"npz:{empty}"), "test split")
    single = tmp_path / "single.npz"
    np.save(tmp_path / "arr.npy", x)
    (tmp_path / "arr.npy").rename(single)  # an .npy named .npz
    one_line_exit_2(train(cli, f"npz:{single}"), "not an .npz archive")
    # an archive whose member declares a huge shape (its data is never there)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6)})
    huge = tmp_path / "huge.npz"
    with zipfile.ZipFile(huge, "w") as zf:
        zf.writestr("x.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:])
        zf.writestr("y.npy", b"")
    one_line_exit_2(train(cli, f"npz:{huge}"), "over the limit")


def test_folder_images_that_are_too_large_or_not_files(cli, tmp_path):
    from PIL import Image

    root = tmp_path / "imgs"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(10):
            Image.new("L", (8, 8), color=i * 20).save(root / c / f"{i}.png")
    os.mkfifo(root / "a" / "x.png")  # a FIFO would block a reader for ever
    (root / "a" / "zero.png").symlink_to("/dev/zero")  # a device behind a link
    (root / "b" / "self.png").symlink_to("self.png")  # a link to itself
    code, _, err = train(cli, f"folder:{root}")
    assert code == 0, err
    # usable data: trained on the rest, with one line that says what was skipped and why
    assert len(err.strip().splitlines()) == 1 and "skipped 3 file(s) that are not regular files" in err, err
    assert "a/x.png" in err and "a/zero.png" in err and "b/self.png" in err
    Image.new("1", (5000, 5000)).save(root / "b" / "big.png")  # a few kB on disk, 25M pixels
    one_line_exit_2(train(cli, f"folder:{root}"), "over the limit of")


@pytest.mark.parametrize(
    ("data", "message"),
    [("synthetic:classes=nan", "finite"), ("synthetic:seed=-1", "seed must be"),
     ("synthetic:seed=1e23", "seed must be"), ("synthetic:classes=1", "classes must be"),
     ("synthetic:samples=1e12", "samples must be")],
)  # fmt: skip
def test_synthetic_options_out_of_range(cli, data, message):
    one_line_exit_2(train(cli, data), message)


# --------------------------------------------------------------------------- arguments and architecture files


def test_arguments_that_would_exhaust_memory(cli):
    one_line_exit_2(train(cli, "digits", "--progressive", "--stages", "100000000"), "--stages")
    one_line_exit_2(train(cli, "digits", "--epochs", "100000000"), "--epochs")
    one_line_exit_2(train(cli, "digits", "--batch-size", "1"), "--batch-size: must be >= 2")
    one_line_exit_2(cli("info", "efficientnet-b0", "--resolution", "1e200"), "--resolution")
    one_line_exit_2(cli("info", "efficientnet-b0", "--resolution", "100000"), "resolution")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["stages"][0].update(repeats=10**7), "stages[0].repeats: must be <= 1,000"),
        (lambda d: d["stages"][0].update(channels=10**9), "stages[0].channels: must be <= 100,000"),
        (lambda d: d.update(resolution=10**6), "resolution: must be <= 4,096"),
        (lambda d: d.update(metrics={"accuracy": float("nan")}), "NaN is not a number JSON allows"),
    ],
)
def test_architecture_files_that_would_exhaust_memory(cli, tmp_path, edit, message):
    data = json.loads(preset_path("efficientnet-b0").read_text())
    edit(data)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    one_line_exit_2(cli("info", path), message)
    one_line_exit_2(cli("export", path, "--format", "json"), message)


def test_architecture_files_that_do_not_parse(cli, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    one_line_exit_2(cli("info", deep), "unreadable JSON")
    long_int = tmp_path / "long.json"
    long_int.write_text('{"resolution": ' + "9" * 5000 + "}")
    one_line_exit_2(cli("info", long_int), "unreadable JSON")


# --------------------------------------------------------------------------- specs, storage and runs


def test_yaml_alias_bomb_is_one_short_line(cli, tmp_path):
    levels = ["&a [x, x, x, x, x, x, x, x, x]"] + [
        f"&{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdef", "bcdefg", strict=True)
    ]
    bomb = f"name: [{', '.join(levels)}]\n"  # 343 bytes that expand to 9**7 items
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb)
    err = one_line_exit_2(cli("search", path, "--out", tmp_path / "run"), "name:")
    assert len(err) < 1000


def test_unreachable_storage_is_one_line(cli, write_spec, tmp_path):
    spec = write_spec(search={"storage": "postgresql://effnas:secret@127.0.0.1:1/effnas"})
    err = one_line_exit_2(cli("search", spec, "--out", tmp_path / "run"), "search.storage: cannot open")
    assert "secret" not in err and not (tmp_path / "run").exists()  # a failed start leaves nothing


def test_relative_sqlite_storage_lies_in_the_run_directory(cli, write_spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(search={"trials": 1, "storage": "sqlite:///mine.db"})
    code, _, err = cli("search", spec, "--out", "run")
    assert code == 0, err
    assert (tmp_path / "run" / "mine.db").is_file() and not (tmp_path / "mine.db").exists()


def test_report_on_a_folder_that_is_not_a_run(cli, tmp_path):
    one_line_exit_2(cli("report", tmp_path), "not a run directory")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({"name": "x", "target": {"flops": 1e8}}))
    err = one_line_exit_2(cli("report", tmp_path), "holds no study")
    assert "--resume" not in err and not (tmp_path / "study.db").exists()


def test_corrupt_study_db_under_report(cli, write_spec, tmp_path):
    out = tmp_path / "run"
    assert cli("search", write_spec(search={"trials": 1}), "--out", out)[0] == 0
    (out / "study.db").write_bytes(b"this is not a database" * 100)
    one_line_exit_2(cli("report", out), "cannot open the study")


def test_resume_with_an_edited_spec_is_refused_without_touching_the_study(cli, write_spec, tmp_path):
    out = tmp_path / "run"
    assert cli("search", write_spec(search={"trials": 2}), "--out", out)[0] == 0
    saved = yaml.safe_load((out / "spec.yaml").read_text())
    saved["space"]["kernel"] = [7]
    (out / "spec.yaml").write_text(yaml.safe_dump(saved))
    one_line_exit_2(cli("search", "--resume", "--out", out, "--trials", "3"), "section 'space' differs")
    with sqlite3.connect(out / "study.db") as db:
        assert db.execute("select count(*) from trials").fetchone()[0] == 2


def test_verify_records_missing_a_field_are_skipped(cli, write_spec, tmp_path):
    out = tmp_path / "run"
    verify = {"enabled": True, "top_k": 1, "seeds": 1, "epochs": 1}
    assert cli("search", write_spec(search={"trials": 2}, verify=verify), "--out", out)[0] == 0
    record = json.loads((out / "verify.jsonl").read_text().splitlines()[0])
    del record["accuracy"]
    (out / "verify.jsonl").write_text(json.dumps(record) + "\n")
    code, _, err = cli("report", out)
    assert code == 0, err


def test_a_failed_start_leaves_nothing_so_the_same_command_runs_again(cli, write_spec, tmp_path):
    data = tmp_path / "data.npz"
    npz(data, x=np.zeros((40, 8, 8), np.uint8), y=np.arange(40) % 2)
    spec = write_spec(proxy={"dataset": "npz", "path": str(data)})
    data.write_bytes(b"gone bad")  # valid when the spec was read, unreadable when the search starts
    one_line_exit_2(cli("search", spec, "--out", tmp_path / "run"), "npz")
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- empty data, giant integers, deep nesting


@pytest.mark.parametrize("dims", [(0, 28, 28), (10, 0, 0), (10, 28, 0)])
def test_idx_that_declares_an_empty_array(cli, tmp_path, dims):
    root = tmp_path / "mnist"
    root.mkdir()
    (root / "train-images-idx3-ubyte").write_bytes(idx(dims, b""))
    (root / "train-labels-idx1-ubyte").write_bytes(idx((dims[0],), bytes(i % 2 for i in range(dims[0]))))
    (root / "t10k-images-idx3-ubyte").write_bytes(idx((4, 28, 28), bytes(4 * 28 * 28)))
    (root / "t10k-labels-idx1-ubyte").write_bytes(idx((4,), bytes([0, 1, 0, 1])))
    one_line_exit_2(train(cli, f"mnist:{root}"), f"declares dimensions {dims}: an empty array")


def test_npz_with_an_empty_training_split_or_empty_images(cli, tmp_path):
    y = np.arange(4) % 2
    empty = npz(tmp_path / "empty.npz", x=np.zeros((0, 8, 8), np.uint8), y=y[:0], x_test=np.zeros((4, 8, 8)), y_test=y)
    one_line_exit_2(train(cli, f"npz:{empty}"), "the training split is empty")
    flat = npz(tmp_path / "flat.npz", x=np.zeros((20, 8, 0), np.uint8), y=np.arange(20) % 2)
    one_line_exit_2(train(cli, f"npz:{flat}"), "images must be N x H x W")


@pytest.mark.parametrize(
    ("value", "message"),
    [("100000000000000000000000", "--seed: must be <= 4,294,967,295"), ("-1", "--seed: must be >= 0"),
     ("9" * 5000, "--seed: must be an integer of at most 30 digits")],
)  # fmt: skip
def test_giant_seeds_on_the_command_line(cli, value, message):
    one_line_exit_2(train(cli, "digits", "--seed", value), message)


def test_giant_integers_elsewhere_on_the_command_line(cli, write_spec, tmp_path):
    one_line_exit_2(cli("search", write_spec(), "--trials", "9" * 25, "--out", tmp_path / "r"),
                    "--trials: must be <= 9,223,372,036,854,775,807")  # fmt: skip
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [("seed: " + "9" * 5000, "unreadable YAML (Exceeds the limit (4300 digits)"),
     ("seed: 4294967296", "seed: must be in [0, 2**32 - 1], got 4294967296"),
     ("seed: -3", "seed: must be in [0, 2**32 - 1], got -3"),
     ("search: {trials: 100000000000000000000000}", "search.trials: must be at most 2**63 - 1 in size"),
     ("seed: " + "[" * 5000 + "]" * 5000, "nested deeper than 50 levels at line 2"),
     ("proxy:\n" + "".join("  " * i + "a:\n" for i in range(1, 200)), "nested deeper than 50 levels")],
)  # fmt: skip
def test_specs_with_giant_integers_or_deep_nesting(cli, tmp_path, text, message):
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\n" + text + "\n")
    one_line_exit_2(cli("search", spec, "--out", tmp_path / "run"), message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("fmt", ["json", "timm", "onnx"])
def test_export_to_a_path_that_cannot_be_written(cli, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnx")
    one_line_exit_2(cli("export", SMALL, "--format", fmt, "--out", f"/proc/effnas-x.{fmt}"),
                    f"cannot write /proc/effnas-x.{fmt} (")  # fmt: skip


# --------------------------------------------------------------------------- library warnings stay off stderr


def nas_process(*argv: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m nas`` in a fresh process: what a user's terminal shows (pytest does not catch its warnings)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nas", *map(str, argv)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_weights_that_are_a_foreign_pickle_are_refused_in_one_line(tmp_path):
    import pickle

    (tmp_path / "w.pt").write_bytes(pickle.dumps({"a": [1, 2]}, protocol=4))  # torch's unpickler warns on protocol 4
    done = nas_process("train", SMALL, "--data", "digits", "--resolution", 8, "--evaluate", "--weights",
                       tmp_path / "w.pt", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "Warning" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nas: error: --weights: cannot load {tmp_path / 'w.pt'}")


def test_a_decompression_bomb_image_is_refused_in_the_projects_words(tmp_path):
    from PIL import Image

    root = tmp_path / "imgs"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (8, 8), color=i * 40).save(root / c / f"{i}.png")
    Image.new("1", (10_000, 10_000)).save(root / "b" / "bomb.png")  # 100M pixels: over Pillow's warning threshold
    done = nas_process("train", SMALL, "--data", f"folder:{root}", "--resolution", 8, cwd=tmp_path)
    assert done.returncode == 2 and "Warning" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "bomb.png is over the limit of" in done.stderr


def test_a_run_named_with_an_emoji_or_a_dollar_plots_without_warnings(write_spec, tmp_path):
    spec = write_spec(name="run-\U0001f680-$x$", search={"trials": 2})
    done = nas_process("search", spec, "--out", tmp_path / "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "Glyph" not in done.stderr, done.stderr
    assert (tmp_path / "run" / "report.png").stat().st_size > 0
