"""Image classification datasets: loading, splits, class-balanced subsets and batching.

Nothing here downloads or unpickles. Every dataset becomes the same in-memory form: images
as ``(N, C, H, W)`` tensors (``uint8``, or ``float32`` in [0, 1]) and ``int64`` labels, in
three splits. The validation split is held out of the training data with a fixed seed, so
every trial of a search is scored on the same images; the test split is never used by search.

Sources (``NAME`` or ``NAME:PATH`` on the command line):

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images).
- ``fashion-mnist`` / ``mnist``: the standard IDX files (``train-images-idx3-ubyte.gz`` ...),
  by default from ``/usr/share/datasets/fashion-mnist`` (Debian ``dataset-fashion-mnist``).
- ``cifar10``: the binary version (``data_batch_1.bin`` ... ``test_batch.bin``).
- ``npz``: arrays ``x`` (N x H x W or N x C x H x W, uint8 or float) and ``y``, optionally
  ``x_test`` and ``y_test``; read with ``allow_pickle=False``.
- ``folder``: one sub-folder of images per class (optionally under ``train/`` and ``test/``).
- ``synthetic``: a seeded, generated task for tests and scale benchmarks; not a real accuracy.
"""

from __future__ import annotations

import gzip
import math
import sys
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from search_spaces.files import printable

__all__ = [
    "DATASETS",
    "DEFAULT_FASHION_MNIST",
    "DataError",
    "DataSpec",
    "Dataset",
    "Split",
    "batches",
    "load_dataset",
    "parse_data_arg",
]

DATASETS = ("digits", "fashion-mnist", "mnist", "cifar10", "npz", "folder", "synthetic")
DEFAULT_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
_GRAY_MODES = ("L", "1", "I;16", "I")
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
_SPLIT_SEED = 0  # the validation and held-out test splits never change between runs

# Bad input fails fast and small: sizes known before reading are checked against these first.
MAX_ARRAY_BYTES = 2**30
"""The largest array a data file may declare (1 GiB: Fashion-MNIST's training images are 47 MB)."""
MAX_CLASSES = 100_000
"""The most classes a dataset may have (ImageNet-21k has 21,841)."""
MAX_IMAGE_PIXELS = 4096 * 4096
"""The largest image a folder dataset may hold; each is resized to ``size`` as it is read."""


class DataError(ValueError):
    """A dataset that cannot be loaded; the message names the dataset and the file."""


@dataclass(frozen=True)
class DataSpec:
    """Which data to load and how to split it.

    ``val_size`` is a fraction (< 1) or a count of training images held out for validation.
    ``train_size`` requests a seeded, class-balanced subset of the remaining training images.
    ``test_size`` is used only where the source has no test split of its own.
    ``options`` configure ``synthetic`` (``classes``, ``samples``, ``size``, ``noise``,
    ``channels``, ``seed``) and ``folder`` (``size``, the side images are resized to on load).
    """

    dataset: str
    path: str | None = None
    train_size: int | None = None
    val_size: float = 0.1
    test_size: float = 0.2
    options: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise DataError(f"dataset: must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.dataset == "synthetic" and self.path is not None:
            raise DataError(f"path: synthetic data has no path, got {self.path!r}")
        if self.train_size is not None and self.train_size < 1:
            raise DataError(f"train_size: must be >= 1, got {self.train_size!r}")
        if not 0 < self.val_size < 1 and not (self.val_size >= 1 and float(self.val_size).is_integer()):
            raise DataError(f"val_size: must be a fraction in (0, 1) or a whole count, got {self.val_size!r}")
        if not 0 < self.test_size < 1:
            raise DataError(f"test_size: must be a fraction in (0, 1), got {self.test_size!r}")

    @property
    def default_path(self) -> str | None:
        """The path read when none is given (Debian's Fashion-MNIST), or None."""
        return self.path or (DEFAULT_FASHION_MNIST if self.dataset == "fashion-mnist" else None)

    def option(self, key: str, default: float) -> float:
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class Split:
    """Images ``x`` (N, C, H, W) and labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.x[index], self.y[index])


@dataclass(frozen=True)
class Dataset:
    """Three splits and what a model needs to know about them."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    synthetic: bool = False
    _cache: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict, compare=False, repr=False)

    @property
    def in_channels(self) -> int:
        return int(self.train.x.shape[1])

    def images(self, split: Split, resolution: int) -> torch.Tensor:
        """``split.x`` as float in [0, 1] at ``resolution`` (bilinear, antialiased), cached."""
        key = (id(split.x), resolution)
        if key not in self._cache:
            self._cache[key] = _resize(_to_unit(split.x), resolution)
        return self._cache[key]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def describe(self) -> str:
        note = " (synthetic, not a real accuracy)" if self.synthetic else ""
        size = f"{self.train.x.shape[-2]}x{self.train.x.shape[-1]}"
        return (
            f"{self.name}{note}: {self.num_classes} classes, {self.in_channels} channel(s), {size} px; "
            f"train {len(self.train)}, val {len(self.val)}, test {len(self.test)}"
        )


def _to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def _resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    if x.shape[-2:] == (resolution, resolution):
        return x.contiguous()
    out = []
    for chunk in torch.split(x, 4096):  # bounded peak memory on large datasets
        antialias = resolution < chunk.shape[-1]
        out.append(F.interpolate(chunk, size=(resolution, resolution), mode="bilinear", antialias=antialias))
    return torch.cat(out).clamp_(0.0, 1.0)


def batches(
    data: Dataset,
    split: Split,
    *,
    batch_size: int,
    resolution: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images in [0, 1] at resolution, labels)``; normalize after any augmentation."""
    x = data.images(split, resolution)
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield x[index], split.y[index]


# --------------------------------------------------------------------------- parsing


def parse_data_arg(text: str, **overrides: Any) -> DataSpec:
    """``NAME``, ``NAME:PATH``, ``synthetic:classes=4,samples=600`` or a bare path.

    A bare path is recognised by its contents: an ``.npz`` file, a directory of IDX files
    (MNIST format), of CIFAR-10 ``.bin`` batches, or of class sub-folders.
    """
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"data: must be a dataset name or path, got {text!r}")
    name, _, rest = text.partition(":")
    if name in DATASETS:
        if name == "synthetic" and rest:
            return DataSpec(dataset="synthetic", options=_parse_options(rest), **overrides)
        return DataSpec(dataset=name, path=rest or None, **overrides)
    path = Path(text)
    if not path.exists():
        raise DataError(f"data: {text!r} is neither a dataset name ({', '.join(DATASETS)}) nor an existing path")
    return DataSpec(dataset=_detect(path), path=text, **overrides)


def _parse_options(text: str) -> tuple[tuple[str, float], ...]:
    allowed = {"classes", "samples", "size", "noise", "channels", "seed"}
    out = []
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key not in allowed:
            raise DataError(f"data: unknown synthetic option {key!r} (allowed: {', '.join(sorted(allowed))})")
        try:
            number = float(value)
        except ValueError:
            raise DataError(f"data: synthetic option {key}: must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise DataError(f"data: synthetic option {key}: must be a finite number, got {value!r}")
        out.append((key, number))
    return tuple(out)


def _detect(path: Path) -> str:
    if path.is_file():
        if path.suffix == ".npz":
            return "npz"
        raise DataError(f"data: {path}: a file must be an .npz archive")
    names = [p.name for p in path.iterdir()]
    if any("-images-idx3-ubyte" in n for n in names):
        return "mnist"
    if any(n.endswith(".bin") for n in names) or (path / "cifar-10-batches-bin").is_dir():
        return "cifar10"
    return "folder"


# --------------------------------------------------------------------------- loading


def load_dataset(spec: DataSpec | str, *, seed: int = 0) -> Dataset:
    """Load, split and (if asked) subset a dataset. ``seed`` draws the training subset."""
    if isinstance(spec, str):
        spec = parse_data_arg(spec)
    loader = {
        "digits": _load_digits,
        "fashion-mnist": _load_mnist,
        "mnist": _load_mnist,
        "cifar10": _load_cifar10,
        "npz": _load_npz,
        "folder": _load_folder,
        "synthetic": _load_synthetic,
    }[spec.dataset]
    train, test, classes = loader(spec)
    num_classes = len(classes)
    _check_split(spec, train, num_classes, "training")
    _check_split(spec, test, num_classes, "test")
    rng = torch.Generator().manual_seed(_SPLIT_SEED)
    n_val = int(spec.val_size) if spec.val_size >= 1 else round(spec.val_size * len(train))
    keep, held = _stratified_split(train.y, n_val, num_classes, rng)
    train, val = train.subset(keep), train.subset(held)
    if spec.train_size is not None:
        train = train.subset(_balanced_subset(spec, train.y, spec.train_size, num_classes, seed))
    unit = _to_unit(train.x)
    mean = tuple(float(v) for v in unit.mean(dim=(0, 2, 3)))
    std = tuple(max(float(v), 1e-3) for v in unit.std(dim=(0, 2, 3)))
    return Dataset(
        name=spec.dataset,
        train=train,
        val=val,
        test=test,
        num_classes=num_classes,
        classes=classes,
        mean=mean,
        std=std,
        synthetic=spec.dataset == "synthetic",
    )


def _check_split(spec: DataSpec, split: Split, num_classes: int, what: str) -> None:
    """A split is usable: images there, of non-zero size, one label each, every label a class."""
    where = f"{spec.dataset}" + (f" ({spec.path})" if spec.path else "")
    if len(split) == 0:
        raise DataError(f"{where}: the {what} split is empty")
    if split.x.ndim != 4 or min(split.x.shape[1:]) < 1:
        raise DataError(f"{where}: {what} images must have non-empty channels, height and width, got shape "
                        f"{tuple(split.x.shape)}")  # fmt: skip
    if split.x.shape[0] != split.y.shape[0]:
        raise DataError(f"{where}: {split.x.shape[0]} {what} images but {split.y.shape[0]} labels")
    if int(split.y.min()) < 0 or int(split.y.max()) >= num_classes:
        raise DataError(f"{where}: {what} labels must be in [0, {num_classes - 1}], got {int(split.y.min())}"
                        f"..{int(split.y.max())}")  # fmt: skip
    if what == "training":
        if num_classes < 2:
            raise DataError(f"{where}: needs at least 2 classes, got {num_classes}")
        counts = torch.bincount(split.y, minlength=num_classes)
        empty = torch.nonzero(counts == 0).flatten()
        if len(empty):
            raise DataError(f"{where}: class {int(empty[0])} has no training images")


def _stratified_split(
    y: torch.Tensor, n_holdout: int, num_classes: int, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hold out ``n_holdout`` indices, each class in proportion to its size."""
    n = len(y)
    if not 0 < n_holdout < n:
        raise DataError(f"data.val_size: must leave images on both sides, got {n_holdout} of {n}")
    keep, held = [], []
    for c in range(num_classes):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=rng)]
        k = min(len(idx) - 1, max(1, round(n_holdout * len(idx) / n))) if len(idx) > 1 else 0
        held.append(idx[:k])
        keep.append(idx[k:])
    return torch.cat(keep).sort().values, torch.cat(held).sort().values


def _balanced_subset(spec: DataSpec, y: torch.Tensor, size: int, num_classes: int, seed: int) -> torch.Tensor:
    """``size`` indices, as equal per class as possible, drawn with ``seed``."""
    if size < num_classes:
        raise DataError(f"data.train_size: must be >= the number of classes ({num_classes}), got {size}")
    if size > len(y):
        raise DataError(f"data.train_size: {size} exceeds the {len(y)} training images of {spec.dataset}")
    rng = torch.Generator().manual_seed(seed)
    per_class = [size // num_classes + (1 if c < size % num_classes else 0) for c in range(num_classes)]
    chosen = []
    for c in range(num_classes):
        idx = torch.nonzero(y == c).flatten()
        if len(idx) < per_class[c]:
            raise DataError(f"data.train_size: class {c} has only {len(idx)} training images, {per_class[c]} requested")
        chosen.append(idx[torch.randperm(len(idx), generator=rng)[: per_class[c]]])
    return torch.cat(chosen).sort().values


def _holdout_test(spec: DataSpec, split: Split, num_classes: int) -> tuple[Split, Split]:
    """Sources without a test split: hold one out with the fixed split seed."""
    rng = torch.Generator().manual_seed(_SPLIT_SEED + 1)
    keep, held = _stratified_split(split.y, round(spec.test_size * len(split)), num_classes, rng)
    return split.subset(keep), split.subset(held)


def _labels(values: np.ndarray, where: str) -> torch.Tensor:
    if values.ndim != 1:
        raise DataError(f"{where}: labels must be one-dimensional, got shape {values.shape}")
    if values.dtype.kind not in "iu":
        if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        else:
            raise DataError(f"{where}: labels must be integers, got dtype {values.dtype}")
    if values.size and values.min() < 0:
        raise DataError(f"{where}: labels must be >= 0, got {values.min()}")
    if values.size and values.max() >= MAX_CLASSES:
        raise DataError(f"{where}: labels must be < {MAX_CLASSES:,} (the class limit), got {values.max()}")
    return torch.from_numpy(values.astype(np.int64))


def _images(values: np.ndarray, where: str) -> torch.Tensor:
    """N x H x W or N x C x H x W, uint8 or float in [0, 1] (or [0, 255]) -> tensor."""
    if values.ndim == 3:
        values = values[:, None]
    if values.ndim != 4 or values.shape[1] not in (1, 3) or min(values.shape[2:]) < 1:
        raise DataError(f"{where}: images must be N x H x W or N x C x H x W with C 1 or 3, got shape {values.shape}")
    if values.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(values))
    if values.dtype.kind not in "fiu":
        raise DataError(f"{where}: images must be uint8 or float, got dtype {values.dtype}")
    values = values.astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise DataError(f"{where}: images contain NaN or infinite values")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{where}: image values must be in [0, 1] or [0, 255], got {values.min()}..{values.max()}")
    if values.max() > 1.0:
        values = values / 255.0
    return torch.from_numpy(np.ascontiguousarray(values))


def _load_digits(spec: DataSpec) -> tuple[Split, Split, tuple[str, ...]]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(np.round(digits.images * (255.0 / 16.0)).astype(np.uint8))[:, None]
    full = Split(x, torch.from_numpy(digits.target.astype(np.int64)))
    classes = tuple(str(c) for c in range(10))
    train, test = _holdout_test(spec, full, 10)
    return train, test, classes


def _regular_file(path: Path, where: str) -> None:
    """A data file must be a regular file (not a device, a FIFO, a folder or a link loop)."""
    if not path.is_file():
        raise DataError(f"{where}: {path} is not a regular file")


def _read_idx(path: Path, where: str) -> np.ndarray:
    """An IDX file (LeCun's MNIST format), gzip'd or not: big-endian dims, then uint8 data.

    The declared size is checked against ``MAX_ARRAY_BYTES`` before the data is read, and
    a gzip'd file is decompressed only that far: a decompression bomb stops at the limit.
    """
    _regular_file(path, where)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                raise DataError(f"{where}: {path} is not an unsigned-byte IDX file")
            ndim = head[3]
            if not 1 <= ndim <= 4:
                raise DataError(f"{where}: {path} declares {ndim} dimensions; IDX data has 1 to 4")
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise DataError(f"{where}: {path} is truncated")
            dims = tuple(int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
            if 0 in dims:
                raise DataError(f"{where}: {path} declares dimensions {dims}: an empty array")
            size = math.prod(dims)
            if size > MAX_ARRAY_BYTES:
                raise DataError(f"{where}: {path} declares {dims} ({size:,} bytes), over the limit of "
                                f"{MAX_ARRAY_BYTES:,} bytes")  # fmt: skip
            data = f.read(size)
            extra = f.read(1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{where}: cannot read {path} ({exc})") from None
    if len(data) != size or extra:
        raise DataError(f"{where}: {path} holds {'more' if extra else len(data)} bytes of data, header says {dims}")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _find(directory: Path, prefix: str, where: str) -> Path:
    found = sorted(p for p in directory.glob(f"{prefix}*") if p.is_file())
    if not found:
        raise DataError(f"{where}: no {prefix}* file in {directory}")
    gz = [p for p in found if p.suffix == ".gz"]
    return (gz or found)[0]


def _directory(spec: DataSpec, default: str | None = None) -> Path:
    text = spec.path or default
    if text is None:
        raise DataError(f"{spec.dataset}: a path is required ({spec.dataset}:PATH)")
    path = Path(text)
    if not path.exists():
        hint = " (install Debian's dataset-fashion-mnist or give a directory)" if default and not spec.path else ""
        raise DataError(f"{spec.dataset}: {path} does not exist{hint}")
    return path


FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot")  # fmt: skip


def _load_mnist(spec: DataSpec) -> tuple[Split, Split, tuple[str, ...]]:
    directory = _directory(spec, DEFAULT_FASHION_MNIST if spec.dataset == "fashion-mnist" else None)
    if not directory.is_dir():
        raise DataError(f"{spec.dataset}: {directory} is not a directory")
    where = spec.dataset
    splits = []
    for prefix in ("train", "t10k"):
        images = _read_idx(_find(directory, f"{prefix}-images-idx3-ubyte", where), where)
        labels = _read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte", where), where)
        if images.ndim != 3:
            raise DataError(f"{where}: {prefix} images must have 3 dimensions, got {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{where}: {prefix} has {len(images)} images but labels of shape {labels.shape}")
        splits.append(Split(torch.from_numpy(images.copy())[:, None], torch.from_numpy(labels.astype(np.int64))))
    num_classes = int(max(int(s.y.max()) for s in splits)) + 1
    classes = FASHION_CLASSES if spec.dataset == "fashion-mnist" and num_classes == 10 else tuple(
        str(c) for c in range(num_classes))  # fmt: skip
    return splits[0], splits[1], classes


def _load_cifar10(spec: DataSpec) -> tuple[Split, Split, tuple[str, ...]]:
    directory = _directory(spec)
    if not directory.is_dir():
        raise DataError(f"cifar10: {directory} is not a directory")
    if (directory / "cifar-10-batches-bin").is_dir():
        directory = directory / "cifar-10-batches-bin"
    record = 1 + 3 * 32 * 32

    def read(paths: list[Path]) -> Split:
        xs, ys = [], []
        for path in paths:
            _regular_file(path, "cifar10")
            if path.stat().st_size > MAX_ARRAY_BYTES:
                raise DataError(f"cifar10: {path} is {path.stat().st_size:,} bytes, over the limit of "
                                f"{MAX_ARRAY_BYTES:,}")  # fmt: skip
            try:
                raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            except OSError as exc:
                raise DataError(f"cifar10: cannot read {path} ({exc.strerror or exc})") from None
            if raw.size == 0 or raw.size % record:
                raise DataError(f"cifar10: {path} is not a CIFAR-10 binary batch ({raw.size} bytes)")
            rows = raw.reshape(-1, record)
            ys.append(rows[:, 0].astype(np.int64))
            xs.append(rows[:, 1:].reshape(-1, 3, 32, 32))
        return Split(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)))

    train_files = sorted(directory.glob("data_batch_*.bin"))
    test_files = sorted(directory.glob("test_batch*.bin"))
    if not train_files or not test_files:
        raise DataError(f"cifar10: {directory} must hold data_batch_*.bin and test_batch.bin")
    train, test = read(train_files), read(test_files)
    meta = directory / "batches.meta.txt"
    try:
        names = tuple(n for n in meta.read_text(encoding="utf-8").split() if n) if meta.is_file() else ()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cifar10: cannot read {meta} ({exc})") from None
    num_classes = max(int(train.y.max()), int(test.y.max())) + 1
    if len(names) != num_classes:
        names = tuple(str(c) for c in range(num_classes))
    return train, test, names


def _read_npz(path: Path, where: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive; each member's declared shape is checked against
    ``MAX_ARRAY_BYTES`` before anything is read, and nothing is unpickled."""
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                with zf.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                    else:
                        raise DataError(f"{where}: {info.filename} is .npy format {version}; 1.0 and 2.0 are read")
                size = math.prod(shape) * dtype.itemsize
                if size > MAX_ARRAY_BYTES:
                    raise DataError(f"{where}: {info.filename} declares shape {shape} ({size:,} bytes), over the "
                                    f"limit of {MAX_ARRAY_BYTES:,} bytes")  # fmt: skip
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except DataError:
        raise
    except zipfile.BadZipFile:
        raise DataError(f"{where}: not an .npz archive (save arrays x and y with numpy.savez)") from None
    except (OSError, ValueError, EOFError, KeyError, zlib.error) as exc:
        raise DataError(f"{where}: cannot read ({exc})") from None


def _load_npz(spec: DataSpec) -> tuple[Split, Split, tuple[str, ...]]:
    path = _directory(spec)
    where = f"npz ({path})"
    _regular_file(path, where)
    arrays = _read_npz(path, where)
    for key in ("x", "y"):
        if key not in arrays:
            raise DataError(f"{where}: missing array {key!r} (found: {', '.join(sorted(arrays)) or 'none'})")
    full = Split(_images(arrays["x"], f"{where} x"), _labels(arrays["y"], f"{where} y"))
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{where}: x_test and y_test must be given together")
    num_classes = int(full.y.max()) + 1 if len(full) else 0
    if "x_test" in arrays:
        test = Split(_images(arrays["x_test"], f"{where} x_test"), _labels(arrays["y_test"], f"{where} y_test"))
        if len(test.y) == 0:
            raise DataError(f"{where}: the test split (x_test, y_test) is empty")
        if test.x.shape[1:] != full.x.shape[1:]:
            raise DataError(f"{where}: x_test images are {tuple(test.x.shape[1:])}, x are {tuple(full.x.shape[1:])}")
        num_classes = max(num_classes, int(test.y.max()) + 1)
        train = full
    else:
        if len(full.y) != len(full.x):
            raise DataError(f"{where}: {len(full.x)} images but {len(full.y)} labels")
        _check_split(spec, full, num_classes, "training")
        train, test = _holdout_test(spec, full, num_classes)
    return train, test, tuple(str(c) for c in range(num_classes))


def _load_folder(spec: DataSpec) -> tuple[Split, Split, tuple[str, ...]]:
    from PIL import Image

    root = _directory(spec)
    if not root.is_dir():
        raise DataError(f"folder: {root} is not a directory")
    size = int(spec.option("size", 64))
    has_splits = (root / "train").is_dir() and (root / "test").is_dir()
    train_root = root / "train" if has_splits else root
    classes = tuple(sorted(p.name for p in train_root.iterdir() if p.is_dir()))
    if len(classes) < 2:
        raise DataError(f"folder: {train_root} must hold one sub-folder per class (found {len(classes)})")

    skipped: list[Path] = []

    def read(directory: Path) -> tuple[list[Image.Image], list[int]]:
        """Each image resized to ``size`` as it is read: only small copies are kept."""
        images, labels = [], []
        for label, name in enumerate(classes):
            named = sorted(p for p in (directory / name).glob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
            files = [p for p in named if p.is_file()]
            skipped.extend(p for p in named if not p.is_file())
            if not files and directory == train_root:
                raise DataError(f"folder: class {name!r} has no images in {directory / name}")
            for path in files:
                images.append(_read_image(path, size))
                labels.append(label)
        return images, labels

    train_imgs, train_labels = read(train_root)
    test_imgs, test_labels = read(root / "test") if has_splits else ([], [])
    if skipped:  # usable data: a one-line notice, not an error
        shown = ", ".join(printable(str(p.relative_to(root)), limit=60) for p in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        print(f"folder: skipped {len(skipped)} file(s) that are not regular files (a FIFO, a device, or a link "
              f"that is broken, loops or leads to one): {shown}{more}", file=sys.stderr)  # fmt: skip
    gray = all(img.mode == "L" for img in train_imgs + test_imgs)
    mode = "L" if gray else "RGB"

    def stack(images: list[Image.Image], labels: list[int]) -> Split:
        arrays = [np.asarray(img.convert(mode)) for img in images]
        x = np.stack(arrays) if arrays else np.zeros((0, size, size), np.uint8)
        x = x[:, None] if gray else x.transpose(0, 3, 1, 2)
        return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(labels, dtype=torch.int64))

    train = stack(train_imgs, train_labels)
    if has_splits:
        return train, stack(test_imgs, test_labels), classes
    train, test = _holdout_test(spec, train, len(classes))
    return train, test, classes


def _read_image(path: Path, size: int) -> Any:
    """One image of a folder dataset, resized to ``size`` as it is read; ``DataError`` if it is
    over ``MAX_IMAGE_PIXELS`` or cannot be decoded (Pillow's own bomb warning is an error here)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise DataError(f"folder: {path} is {img.width}x{img.height}, over the limit of "
                                    f"{MAX_IMAGE_PIXELS:,} pixels")  # fmt: skip
                img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale where it can
                small = img.convert("RGB" if img.mode not in _GRAY_MODES else "L")
                return small.resize((size, size), Image.Resampling.BILINEAR)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise DataError(f"folder: {path} is over the limit of {MAX_IMAGE_PIXELS:,} pixels ({exc})") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"folder: cannot decode {path} ({exc})") from None


def _whole(spec: DataSpec, key: str, default: int, low: int, high: int) -> int:
    """A whole-number option of the synthetic task, in [low, high]."""
    value = spec.option(key, default)
    if not math.isfinite(value) or value != int(value) or not low <= value <= high:
        raise DataError(f"synthetic: {key} must be a whole number in [{low}, {high}], got {value:g}")
    return int(value)


def _load_synthetic(spec: DataSpec) -> tuple[Split, Split, tuple[str, ...]]:
    """Each class is a fixed pattern of Gaussian blobs; samples shift it, scale it and add noise.

    ``noise`` (default 0.35) sets the difficulty; ``samples`` counts training+validation images,
    and a further ``test_size`` share is generated for the test split.
    """
    classes = _whole(spec, "classes", 10, 2, 1000)
    samples = _whole(spec, "samples", 2000, 2 * classes, 200_000)
    size = _whole(spec, "size", 32, 4, 256)
    channels = _whole(spec, "channels", 1, 1, 3)
    seed = _whole(spec, "seed", 0, 0, 2**32 - 1)
    noise = spec.option("noise", 0.35)
    if channels == 2 or not 0 <= noise <= 100:
        raise DataError(f"synthetic: need channels 1 or 3 and noise in [0, 100]; got channels={channels}, "
                        f"noise={noise}")  # fmt: skip
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1).astype(np.float32)
    prototypes = np.zeros((classes, channels, size, size), np.float32)
    for c in range(classes):
        for _ in range(4):
            centre = rng.uniform(0.2 * size, 0.8 * size, 2)
            width = rng.uniform(0.06, 0.2) * size
            blob = np.exp(-((grid - centre) ** 2).sum(-1) / (2 * width**2))
            prototypes[c] += rng.uniform(0.4, 1.0, (channels, 1, 1)) * blob
    prototypes /= prototypes.max(axis=(1, 2, 3), keepdims=True)
    total = samples + round(samples * spec.test_size)
    labels = np.arange(total) % classes
    rng.shuffle(labels)
    shifts = rng.integers(-size // 8, size // 8 + 1, (total, 2))
    x = np.empty((total, channels, size, size), np.float32)
    for i in range(total):
        x[i] = np.roll(prototypes[labels[i]], tuple(shifts[i]), axis=(1, 2)) * rng.uniform(0.7, 1.0)
    x += rng.normal(0.0, noise, x.shape).astype(np.float32)
    x = np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
    data = Split(torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64)))
    index = torch.arange(total)
    return data.subset(index[:samples]), data.subset(index[samples:]), tuple(f"class{c}" for c in range(classes))
