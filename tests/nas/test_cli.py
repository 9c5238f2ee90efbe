"""The ``nas`` CLI: presets, info, export, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from search_spaces import count_flops, count_params, load_architecture, preset_names, preset_path

ROOT = Path(__file__).resolve().parents[2]
SMALL = str(ROOT / "experiments/archs/small-mbconv.json")


def test_presets_lists_all(cli, capsys):
    code, out, _ = cli("presets")
    assert code == 0
    for name in preset_names():
        assert name in out
    assert "5.29M" in out and "0.386G" in out


def test_info_table(cli, capsys):
    code, out, _ = cli("info", "efficientnet-b0")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["stage", "block", "repeats", "kernel", "stride", "expand", "channels", "se",
                                "out_res", "params", "FLOPs"]  # fmt: skip
    assert lines[2].split()[:9] == ["stem", "conv3x3", "1", "3", "2", "-", "32", "-", "112"]
    assert lines[4].split()[:9] == ["stage2", "mbconv", "2", "3", "2", "6", "24", "0.25", "56"]
    assert "params 5,288,548" in out and "FLOPs 385,814,752" in out


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-s", "mnasnet-a1"])
def test_info_json_and_fvcore(cli, capsys, name):
    code, out, _ = cli("info", name, "--json", "--fvcore", "--resolution", "96", "--num-classes", "10")
    assert code == 0
    data = json.loads(out)
    arch = load_architecture(name)
    assert data["params"] == count_params(arch, num_classes=10)
    assert data["flops"] == count_flops(arch, resolution=96, num_classes=10) == data["fvcore_flops"]
    assert (data["resolution"], data["num_classes"]) == (96, 10)
    assert sum(row["flops"] for row in data["stages"]) == data["flops"]
    assert len(data["stages"]) == len(arch.stages) + 2


def test_info_fvcore_text(cli, capsys):
    code, out, _ = cli("info", "mnasnet-a1", "--fvcore")
    assert code == 0 and "fvcore FLOPs 311,579,072 (equal)" in out


def test_info_on_a_file(cli, capsys, tmp_path):
    path = tmp_path / "a.json"
    path.write_text(preset_path("mnasnet-a1").read_text())
    code, out, _ = cli("info", str(path))
    assert code == 0 and "mnasnet-a1" in out


def test_export_json_is_canonical(cli, capsys, tmp_path):
    code, out, _ = cli("export", "efficientnet-b3", "--format", "json")
    assert code == 0 and out == preset_path("efficientnet-b3").read_text()
    target = tmp_path / "b3.json"
    assert cli("export", "efficientnet-b3", "--format", "json", "--out", str(target))[0] == 0
    assert load_architecture(target) == load_architecture("efficientnet-b3")


def test_export_keeps_metrics(cli, capsys, tmp_path):
    data = json.loads(preset_path("mnasnet-a1").read_text())
    data["metrics"] = {"accuracy": 0.5}
    path = tmp_path / "best.json"
    path.write_text(json.dumps(data))
    code, out, _ = cli("export", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["metrics"] == {"accuracy": 0.5}


def test_export_timm(cli, capsys):
    code, out, _ = cli("export", "efficientnetv2-m", "--format", "timm")
    assert code == 0
    data = json.loads(out)
    assert data["arch_def"][0] == ["cn_r3_k3_s1_c24_skip"] and data["stem_size"] == 24


def test_export_never_overwrites(cli, capsys, tmp_path):
    target = tmp_path / "x.json"
    target.write_text("keep me")
    code, _, err = cli("export", "efficientnet-b0", "--format", "json", "--out", str(target))
    assert code == 2 and "already exists" in err
    assert target.read_text() == "keep me"


def _bad_file(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    return str(path)


BAD_ARGS = [
    (["info", "no-such-preset"], "neither an architecture file nor a preset"),
    (["info", "efficientnet-b0", "--resolution", "0"], "--resolution: must be >= 1, got 0"),
    (["info", "efficientnet-b0", "--resolution", "big"], "must be an integer, got 'big'"),
    (["info", "efficientnet-b0", "--num-classes", "-3"], "--num-classes: must be >= 1, got -3"),
    (["info"], "required: ARCH"),
    (["export", "efficientnet-b0", "--format", "yaml"], "invalid choice: 'yaml'"),
    (["export", "efficientnet-b0"], "--format"),
    (["export", "efficientnet-b0", "--format", "json", "--out", "/nonexistent/dir/x.json"], "does not exist"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "required: COMMAND"),
    (["info", "efficientnet-b0", "--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_ARGS, ids=[" ".join(a[0]) or "empty" for a in BAD_ARGS])
def test_bad_input_exits_2_with_one_line(cli, capsys, argv, message):
    code, _, err = cli(*argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "invalid JSON"),
        ('{"format": "effnas.architecture/1"}', "head: missing"),
        (preset_path("efficientnet-b0").read_text().replace('"kernel": 5', '"kernel": 4', 1),
         "stages[2].kernel: must be odd, got 4"),
    ],
)  # fmt: skip
def test_bad_architecture_file_exits_2(cli, capsys, tmp_path, content, message):
    path = _bad_file(tmp_path, content)
    code, _, err = cli("info", path)
    assert code == 2 and message in err and path in err
    assert len(err.strip().splitlines()) == 1


def test_timm_export_of_unrepresentable_block_exits_2(cli, capsys, tmp_path):
    data = json.loads(preset_path("efficientnetv2-s").read_text())
    data["stages"][0]["se"] = 0.25
    code, _, err = cli("export", _bad_file(tmp_path, json.dumps(data)), "--format", "timm")
    assert code == 2 and "no timm notation" in err


def test_python_dash_m_and_console_script():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "nas", "info", "efficientnet-b0", "--json"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["flops"] == 385814752
    bad = subprocess.run([sys.executable, "-m", "nas", "info", "nope"], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=False)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""
    script = Path(sys.executable).with_name("nas")
    if script.exists():  # installed with pip
        done = subprocess.run([str(script), "presets"], capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "efficientnet-b7" in done.stdout


# --------------------------------------------------------------------------- hostile names and paths


def _b0_named(tmp_path, name):
    data = json.loads(preset_path("efficientnet-b0").read_text())
    data["name"] = name
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("name", ["../../escape-family", "/tmp/abs-family", "a\\b", "..", "ok\x1b[31mred\x07"])
def test_architecture_names_that_are_not_names_exit_2(cli, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    arch = _b0_named(tmp_path, name)
    (tmp_path / "escape-family-phi0.json").write_text("a user's file")
    code, _, err = cli("scale", "--base", arch, "--coefficients", "1.2,1.1,1.15", "--phi", "0", "--out", "runs/fam")
    assert code == 2 and "name: must" in err and "\x1b" not in err and "\x07" not in err
    assert (tmp_path / "escape-family-phi0.json").read_text() == "a user's file" and not (tmp_path / "runs").exists()
    code, out, err = cli("info", arch)
    assert code == 2 and out == "" and "\x1b" not in err and len(err.strip().splitlines()) == 1


def test_out_with_dot_dot_never_replaces(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "metrics.json").write_text("mine")
    code, _, err = cli("train", "efficientnet-b0", "--data", "digits", "--epochs", "1", "--out", "keep/new/..")
    assert code == 2 and "already exists" in err
    code, _, err = cli("export", "efficientnet-b0", "--format", "json", "--out", "keep/new/../metrics.json")
    assert code == 2 and "already exists" in err
    assert sorted(p.name for p in keep.iterdir()) == ["metrics.json"] and (keep / "metrics.json").read_text() == "mine"


def test_spec_names_that_leave_runs_exit_2(cli, write_spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("..", "a/b", "nul\x00"):
        path = write_spec(name="s")
        path.write_text(path.read_text().replace("name: s", f"name: {json.dumps(name)}"))
        code, _, err = cli("search", path)
        assert code == 2 and err.startswith("nas: error: name: must"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]  # no runs/, no spec.yaml, no report.md


def test_onnx_export_never_writes_through_a_fixed_temporary_name(cli, tmp_path):
    pytest.importorskip("onnx")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "m.onnx.tmp").symlink_to(victim)
    code, _, err = cli("export", SMALL, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    assert victim.read_text() == "keep me" and (tmp_path / "m.onnx").stat().st_size > 0
