"""Datasets: every kind loads from small files the tests write; splits; subsets; clear errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from nas.training.data import DataError, DataSpec, batches, load_dataset, parse_data_arg


def _idx(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _pattern_images(labels: np.ndarray, size: int, channels: int | None = None, seed: int = 0) -> np.ndarray:
    """Images whose brightness encodes the class, so a loader mix-up shows in the labels."""
    rng = np.random.default_rng(seed)
    shape = (len(labels), size, size) if channels is None else (len(labels), channels, size, size)
    base = (labels * 20 + 10).astype(np.float32).reshape(-1, *([1] * (len(shape) - 1)))
    return np.clip(base + rng.integers(0, 5, shape), 0, 255).astype(np.uint8)


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 200), ("t10k", 50)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(_pattern_images(labels, 28))))
        (tmp_path / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    return tmp_path


def _assert_consistent(data, num_classes, channels, size):
    assert data.num_classes == num_classes and data.in_channels == channels
    for split in (data.train, data.val, data.test):
        assert split.x.shape[1:] == (channels, size, size)
        assert len(split) > 0
        # brightness encodes the class (see _pattern_images)
        means = split.x.float().mean(dim=(1, 2, 3))
        assert torch.equal(((means - 10) / 20).round().long().clamp(0, num_classes - 1), split.y)


def test_mnist_idx(mnist_dir):
    data = load_dataset(f"mnist:{mnist_dir}")
    _assert_consistent(data, 10, 1, 28)
    assert len(data.train) + len(data.val) == 200 and len(data.test) == 50
    assert len(data.val) == 20


def test_fashion_mnist_path_and_detection(mnist_dir):
    assert load_dataset(f"fashion-mnist:{mnist_dir}").classes[0] == "t-shirt/top"
    assert parse_data_arg(str(mnist_dir)).dataset == "mnist"


def test_uncompressed_idx(tmp_path, mnist_dir):
    for path in mnist_dir.glob("*.gz"):
        (tmp_path / path.name[:-3]).write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    assert len(load_dataset(f"mnist:{tmp_path}").test) == 50


def test_cifar10_binary(tmp_path):
    rng = np.random.default_rng(1)
    for name, n in (("data_batch_1.bin", 60), ("data_batch_2.bin", 60), ("test_batch.bin", 30)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = _pattern_images(labels, 32, channels=3)
        rows = np.concatenate([labels[:, None].astype(np.uint8), images.reshape(n, -1)], axis=1)
        (tmp_path / name).write_bytes(rows.tobytes())
    (tmp_path / "batches.meta.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    data = load_dataset(f"cifar10:{tmp_path}")
    _assert_consistent(data, 10, 3, 32)
    assert data.classes[3] == "c3" and len(data.test) == 30
    assert parse_data_arg(str(tmp_path)).dataset == "cifar10"


@pytest.mark.parametrize("layout", ["nhw-uint8", "nchw-float", "with-test"])
def test_npz(tmp_path, layout):
    labels = np.arange(120) % 4
    x = _pattern_images(labels, 12)
    arrays = {"y": labels}
    if layout == "nchw-float":
        arrays["x"] = x[:, None].astype(np.float32) / 255.0
    else:
        arrays["x"] = x
    if layout == "with-test":
        arrays["x_test"], arrays["y_test"] = x[:20], labels[:20]
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    data = load_dataset(str(path))
    assert data.num_classes == 4 and data.train.x.shape[1:] == (1, 12, 12)
    assert len(data.test) == (20 if layout == "with-test" else 24)
    unit = data.images(data.train, 12)
    assert 0.0 <= float(unit.min()) and float(unit.max()) <= 1.0


def test_folder(tmp_path):
    from PIL import Image

    for c, name in enumerate(["cat", "dog", "eel"]):
        (tmp_path / name).mkdir()
        for i in range(10):
            value = c * 20 + 10 + i % 3
            Image.new("L", (20 + i, 16), color=value).save(tmp_path / name / f"{i}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    data = load_dataset(parse_data_arg(f"folder:{tmp_path}"))
    assert data.classes == ("cat", "dog", "eel")
    _assert_consistent(data, 3, 1, 64)


def test_folder_with_train_and_test(tmp_path):
    from PIL import Image

    for split in ("train", "test"):
        for c, name in enumerate(["a", "b"]):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(6):
                Image.new("RGB", (8, 8), color=(c * 20 + 10,) * 3).save(tmp_path / split / name / f"{i}.jpg")
    data = load_dataset(f"folder:{tmp_path}")
    assert data.in_channels == 3 and len(data.test) == 12


def test_synthetic_is_seeded_and_tunable():
    a = load_dataset("synthetic:classes=4,samples=200,size=16,noise=0.2")
    b = load_dataset("synthetic:classes=4,samples=200,size=16,noise=0.2")
    assert torch.equal(a.train.x, b.train.x) and a.synthetic and "not a real accuracy" in a.describe()
    c = load_dataset("synthetic:classes=4,samples=200,size=16,noise=0.2,seed=1")
    assert not torch.equal(a.train.x, c.train.x)
    assert a.num_classes == 4 and a.train.x.shape[1:] == (1, 16, 16)


def test_digits_and_train_size_is_class_balanced():
    full = load_dataset("digits")
    assert len(full.train) + len(full.val) + len(full.test) == 1797
    sub = load_dataset(DataSpec("digits", train_size=100), seed=3)
    assert torch.bincount(sub.train.y).tolist() == [10] * 10
    again = load_dataset(DataSpec("digits", train_size=100), seed=3)
    other = load_dataset(DataSpec("digits", train_size=100), seed=4)
    assert torch.equal(sub.train.y, again.train.y) and torch.equal(sub.train.x, again.train.x)
    assert not torch.equal(sub.train.x, other.train.x)
    # validation and test do not depend on the subset seed; train, val and test are disjoint
    assert torch.equal(sub.val.x, other.val.x) and torch.equal(sub.test.x, full.test.x)


def test_batches_resize_and_cover_the_split():
    data = load_dataset("digits")
    seen = 0
    for x, y in batches(data, data.val, batch_size=64, resolution=32):
        assert x.shape[1:] == (1, 32, 32) and x.dtype == torch.float32
        seen += len(y)
    assert seen == len(data.val)
    normalized = data.normalize(data.images(data.train, 8))
    assert abs(float(normalized.mean())) < 1e-3 and abs(float(normalized.std()) - 1) < 1e-2


def test_real_fashion_mnist_when_installed():
    try:
        data = load_dataset(DataSpec("fashion-mnist", train_size=1000))
    except DataError as exc:
        pytest.skip(str(exc))
    assert len(data.test) == 10000 and len(data.train) == 1000 and len(data.val) == 6000


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


BAD = [
    ("nosuch", "neither a dataset name"),
    ("mnist", "a path is required"),
    ("cifar10:/nonexistent", "/nonexistent does not exist"),
    ("fashion-mnist:/nonexistent/fm", "does not exist"),
    ("synthetic:classes=1", "classes must be a whole number in \\[2, 1000\\], got 1"),
    ("synthetic:colour=3", "unknown synthetic option 'colour'"),
    ("synthetic:noise=lots", "must be a number, got 'lots'"),
]


@pytest.mark.parametrize(("arg", "message"), BAD)
def test_bad_arguments(arg, message):
    with pytest.raises(DataError, match=message):
        load_dataset(arg)


def test_bad_files(tmp_path, mnist_dir):
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((10, 8, 8), np.uint8))
    with pytest.raises(DataError, match="missing array 'y'"):
        load_dataset(f"npz:{tmp_path / 'nolabels.npz'}")
    np.savez(tmp_path / "shape.npz", x=np.zeros((10, 8), np.uint8), y=np.zeros(10, int))
    with pytest.raises(DataError, match=r"got shape \(10, 8\)"):
        load_dataset(f"npz:{tmp_path / 'shape.npz'}")
    np.savez(tmp_path / "neg.npz", x=np.zeros((10, 8, 8), np.uint8), y=-np.ones(10, int))
    with pytest.raises(DataError, match="labels must be >= 0"):
        load_dataset(f"npz:{tmp_path / 'neg.npz'}")
    np.savez(tmp_path / "gap.npz", x=np.zeros((20, 8, 8), np.uint8), y=np.array([0, 2] * 10))
    with pytest.raises(DataError, match="class 1 has no training images"):
        load_dataset(f"npz:{tmp_path / 'gap.npz'}")
    np.savez(tmp_path / "nan.npz", x=np.full((10, 8, 8), np.nan, np.float32), y=np.arange(10) % 2)
    with pytest.raises(DataError, match="NaN"):
        load_dataset(f"npz:{tmp_path / 'nan.npz'}")
    np.savez(tmp_path / "obj.npz", x=np.array([object()] * 4, dtype=object), y=np.arange(4))
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(f"npz:{tmp_path / 'obj.npz'}")
    _write(tmp_path, "junk.npz", b"not a zip")
    with pytest.raises(DataError, match=r"not an \.npz archive"):
        load_dataset(f"npz:{tmp_path / 'junk.npz'}")
    (mnist_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09abc"))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz holds 3 bytes"):
        load_dataset(f"mnist:{mnist_dir}")
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    _write(cifar, "data_batch_1.bin", b"x" * 100)
    _write(cifar, "test_batch.bin", b"x" * 3073)
    with pytest.raises(DataError, match=r"data_batch_1\.bin is not a CIFAR-10 binary batch"):
        load_dataset(f"cifar10:{cifar}")


def test_bad_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot decode .*x.png"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "a" / "x.png").unlink()
    with pytest.raises(DataError, match="class 'a' has no images"):
        load_dataset(f"folder:{tmp_path}")


def test_bad_sizes():
    with pytest.raises(DataError, match="train_size: 5000 exceeds"):
        load_dataset(DataSpec("digits", train_size=5000))
    with pytest.raises(DataError, match="train_size: must be >= the number of classes"):
        load_dataset(DataSpec("digits", train_size=3))
    with pytest.raises(DataError, match="val_size"):
        load_dataset(DataSpec("digits", val_size=1.5))
