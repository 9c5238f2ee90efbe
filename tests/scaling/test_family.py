"""Family emission: the published table reproduces the presets; compound families; bad input."""

from __future__ import annotations

import itertools
import json

import pytest

from scaling.family import compound_family
from search_spaces import count_flops, count_params, dumps_architecture, load_architecture, preset_path


def test_table_family_equals_the_presets(cli, capsys, tmp_path):
    out = tmp_path / "family"
    code, stdout, _ = cli("scale", "--base", "efficientnet-b0", "--table", "efficientnet", "--out", out)
    assert code == 0 and "efficientnet-b7" in stdout
    manifest = json.loads((out / "family.json").read_text())
    assert manifest["table"] == "efficientnet" and [m["phi"] for m in manifest["members"]] == list(range(8))
    for member in manifest["members"]:
        preset = load_architecture(member["name"])
        assert (out / member["file"]).read_text() == preset_path(member["name"]).read_text()
        assert member["params"] == count_params(preset) and member["flops"] == count_flops(preset)
    assert (out / "family.png").stat().st_size > 0


def test_compound_coefficients_record_the_measured_flops_ratio(cli, capsys, tmp_path):
    out = tmp_path / "family"
    code, _, _ = cli("scale", "--base", "efficientnet-b0", "--coefficients", "1.2,1.1,1.15", "--phi", "3",
                     "--out", out)  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "family.json").read_text())
    assert manifest["nominal_flops_ratio"] == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    members = manifest["members"]
    assert [m["resolution"] for m in members] == [224, 256, 296, 344]  # 224 * 1.15**phi to a multiple of 8
    assert members[0]["flops_ratio"] is None
    for prev, cur in itertools.pairwise(members):
        assert cur["flops_ratio"] == pytest.approx(cur["flops"] / prev["flops"])
        assert 1.5 < cur["flops_ratio"] < 2.5  # about 2x per step; rounding moves it
        arch = load_architecture(out / cur["file"])
        assert count_flops(arch) == cur["flops"] and arch.resolution == cur["resolution"]


def test_compound_family_is_pure_and_phi0_is_the_base():
    base = load_architecture("efficientnet-b0")
    family = compound_family(base, alpha=1.2, beta=1.1, gamma=1.15, phi=2)
    assert dumps_architecture(family[0].arch).replace("efficientnet-b0-phi0", "efficientnet-b0") == dumps_architecture(
        base
    )
    assert [m.depth for m in family] == pytest.approx([1.0, 1.2, 1.44])
    with pytest.raises(ValueError, match="beta: must be >= 1"):
        compound_family(base, alpha=1.2, beta=0.9, gamma=1.1, phi=1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--coefficients", "1.2,1.1"], "must be three numbers"),
        (["--coefficients", "1.2,x,1.15"], "must be three numbers"),
        (["--coefficients", "1.2,0.9,1.15"], "beta must be >= 1, got 0.9"),
        (["--coefficients", "1.2,1.1,1.15", "--phi", "-1"], "--phi: must be >= 0, got -1"),
        (["--table", "mobilenet"], "invalid choice: 'mobilenet'"),
        ([], "give exactly one of --coefficients"),
        (["--table", "efficientnet", "--phi", "3"], "--phi"),
    ],
)
def test_bad_input_exits_2(cli, capsys, tmp_path, argv, message):
    code, _, err = cli("scale", "--base", "efficientnet-b0", *argv, "--out", tmp_path / "f")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "f").exists()
