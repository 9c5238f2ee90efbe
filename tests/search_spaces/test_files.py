"""Atomic writes: a fresh temporary name beside the destination, never a fixed one."""

from __future__ import annotations

import pytest

from search_spaces.files import (
    OutputDir,
    OutputError,
    atomic_write,
    atomic_write_with,
    name_problem,
    new_output_file,
    printable,
    sanitize_name,
)


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "report.md"
    atomic_write(path, "first")
    atomic_write(path, b"second")
    assert path.read_text() == "second" and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_a_fixed_temporary_name_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "m.onnx.tmp").symlink_to(victim)  # where a fixed temporary name would be
    (tmp_path / "out.md.tmp").write_text("a user's file")
    atomic_write(tmp_path / "m.onnx", "model")
    atomic_write(tmp_path / "out.md", "report")
    assert victim.read_text() == "keep me" and (tmp_path / "out.md.tmp").read_text() == "a user's file"
    assert (tmp_path / "m.onnx").read_text() == "model"


def test_a_failed_writer_leaves_no_temporary_file(tmp_path):
    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        atomic_write_with(tmp_path / "plot.png", fail)
    assert list(tmp_path.iterdir()) == []


def test_output_dir_keeps_every_write_inside_the_folder(tmp_path):
    out = OutputDir.create(tmp_path / "out")
    out.write("a.json", "{}")
    out.folder("pareto").write("trial-0001.json", "{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (out.root / "link").symlink_to(outside)  # a folder inside that leads out
    for bad in ("../escape.json", "/etc/passwd-copy", "pareto/../../escape.json", "link/escape.json", ""):
        with pytest.raises(OutputError):
            out.write(bad, "x")
    assert list(outside.iterdir()) == [] and not (tmp_path / "escape.json").exists()


def test_output_dir_never_replaces_nor_writes_through_a_link(tmp_path):
    out = OutputDir.create(tmp_path / "out")
    out.write("report.md", "first")
    with pytest.raises(OutputError, match="never replaces"):
        out.write("report.md", "second")
    out.write("report.md", "regenerated", replace=True)  # a run's own report, asked for
    assert (out.root / "report.md").read_text() == "regenerated"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (out.root / "best.json").symlink_to(victim)
    with pytest.raises(OutputError, match="is a link"):
        out.write("best.json", "x", replace=True)
    assert victim.read_text() == "keep"


def test_new_folders_resolve_dot_dot_before_checking(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "metrics.json").write_text("mine")
    with pytest.raises(OutputError, match="already exists and is not empty"):
        OutputDir.create(keep / "new" / "..")  # 'new' does not exist: the literal path would pass
    with pytest.raises(OutputError, match="already exists"):
        new_output_file(keep / "new" / ".." / "metrics.json")
    assert (keep / "metrics.json").read_text() == "mine" and not (keep / "new").exists()


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "non-empty"), ("../../escape", "not a path"), ("a/b", "not a path"), ("a\\b", "not a path"),
     ("..", "'..'"), ("x..y", "'..'"), ("ok\x1b[31m", "control"), ("nul\x00", "control"), ("x" * 201, "at most")],
)  # fmt: skip
def test_names_are_names(name, problem):
    assert problem in name_problem(name)
    assert name_problem(sanitize_name(name)) is None


def test_good_names_and_printable_text():
    for name in ("efficientnet-b0", "custom-b0-w0.4444", "runs_x", "ünïcode name"):
        assert name_problem(name) is None
    assert printable("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"
    assert printable("x" * 1000, limit=10) == "x" * 10 + "... (990 more characters)"
