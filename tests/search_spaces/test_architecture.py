"""The Architecture spec: JSON round trips and strict validation with field paths."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from search_spaces import (
    Architecture,
    ArchitectureError,
    Stage,
    architecture_from_dict,
    architecture_hash,
    architecture_to_dict,
    dumps_architecture,
    load_architecture,
    load_architecture_with_metrics,
    preset_names,
    preset_path,
    save_architecture,
)
from tests.archgen import random_architectures

B0_DICT = json.loads(preset_path("efficientnet-b0").read_text())


@pytest.mark.parametrize("name", preset_names())
def test_preset_files_are_canonical(name):
    text = preset_path(name).read_text()
    arch = load_architecture(name)
    assert arch.name == name
    assert dumps_architecture(arch) == text


@pytest.mark.parametrize("arch", random_architectures(20), ids=lambda a: a.name)
def test_round_trip_exact(arch, tmp_path):
    path = save_architecture(arch, tmp_path / "a.json")
    text = path.read_text()
    again = load_architecture(path)
    assert again == arch
    assert dumps_architecture(again) == text
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_minimal_file_gets_defaults():
    data = copy.deepcopy(B0_DICT)
    for key in ("dropout", "drop_path", "activation", "bn_momentum", "bn_eps"):
        del data[key]
    arch = architecture_from_dict(data)
    assert (arch.dropout, arch.drop_path, arch.activation, arch.bn_momentum, arch.bn_eps) == (
        0.2, 0.2, "silu", 0.1, 1e-3)  # fmt: skip


def test_metrics_are_kept_apart_and_ignored_for_building(tmp_path):
    arch = load_architecture("efficientnet-b0")
    path = save_architecture(arch, tmp_path / "best.json", metrics={"accuracy": 0.9, "trial": 3})
    loaded, metrics = load_architecture_with_metrics(path)
    assert loaded == arch
    assert metrics == {"accuracy": 0.9, "trial": 3}
    assert "metrics" not in architecture_to_dict(loaded)


def test_save_refuses_to_overwrite(tmp_path):
    arch = load_architecture("efficientnet-b0")
    path = save_architecture(arch, tmp_path / "a.json")
    with pytest.raises(FileExistsError, match="already exists"):
        save_architecture(arch, path)
    assert load_architecture(path) == arch


def _mutate(path: str, value):
    data = copy.deepcopy(B0_DICT)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        if "[" in part:
            key, idx = part[:-1].split("[")
            node = node[key][int(idx)]
        else:
            node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()

BAD = [
    ("format", "effnas.architecture/2", "format", "effnas.architecture/2"),
    ("format", _DELETE, "format", "missing"),
    ("name", "", "name", "''"),
    ("name", 3, "name", "3"),
    ("resolution", 0, "resolution", "0"),
    ("resolution", 224.0, "resolution", "224.0"),
    ("resolution", True, "resolution", "True"),
    ("stem.channels", 0, "stem.channels", "0"),
    ("stem.width", 3, "stem.width", "unknown key"),
    ("head.channels", "1280", "head.channels", "'1280'"),
    ("stages", [], "stages", "[]"),
    ("stages", {}, "stages", "{}"),
    ("stages[3].kernel", 4, "stages[3].kernel", "must be odd, got 4"),
    ("stages[0].kernel", 0, "stages[0].kernel", "0"),
    ("stages[1].stride", 3, "stages[1].stride", "must be 1 or 2, got 3"),
    ("stages[1].stride", 0, "stages[1].stride", "0"),
    ("stages[2].channels", -8, "stages[2].channels", "-8"),
    ("stages[2].repeats", 0, "stages[2].repeats", "0"),
    ("stages[2].se", 1.0, "stages[2].se", "1.0"),
    ("stages[2].se", -0.1, "stages[2].se", "-0.1"),
    ("stages[2].se", "0.25", "stages[2].se", "'0.25'"),
    ("stages[4].expand", 0, "stages[4].expand", "0"),
    ("stages[4].expand", 2.5, "stages[4].expand", "2.5"),
    ("stages[0].block", "conv", "stages[0].block", "'conv'"),
    ("stages[0].skip", False, "stages[0].skip", "unknown key"),
    ("stages[5].channels", _DELETE, "stages[5].channels", "missing"),
    ("dropout", 1.5, "dropout", "1.5"),
    ("drop_path", float("nan"), "drop_path", "nan"),
    ("activation", "gelu", "activation", "'gelu'"),
    ("bn_momentum", 0, "bn_momentum", "0"),
    ("bn_eps", 0, "bn_eps", "0"),
    ("metrics", [1], "metrics", "[1]"),
    ("width", 1.0, "width", "unknown key"),
]


@pytest.mark.parametrize(("field", "value", "path", "shown"), BAD, ids=[b[0] + "=" + repr(b[1])[:12] for b in BAD])
def test_invalid_fields_name_path_and_value(field, value, path, shown):
    with pytest.raises(ArchitectureError) as info:
        architecture_from_dict(_mutate(field, value))
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert shown in message, message
    assert "\n" not in message
    assert info.value.path == path


def test_not_an_object():
    with pytest.raises(ArchitectureError, match="must be an object, got list"):
        architecture_from_dict([])


def test_constructor_validates_too():
    arch = load_architecture("efficientnet-b0")
    with pytest.raises(ArchitectureError, match=r"stages\[0\].kernel: must be odd, got 2"):
        dataclasses.replace(arch, stages=(dataclasses.replace(arch.stages[0], kernel=2),))
    stage = Stage("mbconv", 1, 3, 1, 1, 16, 0.0)
    made = Architecture(name="x", resolution=32, stem=arch.stem, stages=[stage], head=arch.head)  # type: ignore[arg-type]
    assert made.stages == (stage,)
    hash(made)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "invalid JSON at line 1"),
        ("[]", "must be an object"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_files(tmp_path, content, expected):
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ArchitectureError, match=expected) as info:
        load_architecture(path)
    assert str(path) in str(info.value)


def test_error_in_file_names_file_and_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_mutate("stages[3].kernel", 4)))
    with pytest.raises(ArchitectureError) as info:
        load_architecture(path)
    assert str(info.value) == f"{path}: stages[3].kernel: must be odd, got 4"


def test_unknown_name_lists_presets(tmp_path):
    with pytest.raises(ArchitectureError, match=r"neither an architecture file nor a preset.*efficientnet-b0"):
        load_architecture("efficientnet-b9")
    with pytest.raises(ArchitectureError, match="not a file"):
        load_architecture(tmp_path)


def test_architecture_hash_ignores_the_name_only():
    b0 = load_architecture("efficientnet-b0")
    assert architecture_hash(dataclasses.replace(b0, name="renamed")) == architecture_hash(b0)
    hashes = {architecture_hash(load_architecture(n)) for n in preset_names()}
    assert len(hashes) == len(preset_names())
    stages = list(b0.stages)
    stages[2] = dataclasses.replace(stages[2], kernel=3)
    assert architecture_hash(dataclasses.replace(b0, stages=tuple(stages))) != architecture_hash(b0)
    assert architecture_hash(dataclasses.replace(b0, dropout=0.3)) != architecture_hash(b0)
