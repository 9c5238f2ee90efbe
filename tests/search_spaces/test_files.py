"""Atomic writes: a fresh temporary name beside the destination, never a fixed one."""

from __future__ import annotations

import pytest

from search_spaces.files import atomic_write, atomic_write_with


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
