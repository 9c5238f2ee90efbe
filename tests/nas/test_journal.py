"""The JSON-lines journal: durable appends, a torn last line skipped, compaction."""

from __future__ import annotations

import math

from nas import journal


def test_append_read_and_a_torn_last_line(tmp_path):
    path = tmp_path / "sub" / "grid.jsonl"
    assert journal.read(path) == []
    journal.append(path, {"a": 1, "accuracy": math.nan})
    journal.append(path, {"a": 2})
    path.write_text(path.read_text() + '{"a": 3, "acc')  # a kill in the middle of a write
    records = journal.read(path)
    assert [r["a"] for r in records] == [1, 2] and math.isnan(records[0]["accuracy"])
    journal.compact(path, records)  # the torn line goes, so the next append starts a clean line
    journal.append(path, {"a": 3})
    assert [r["a"] for r in journal.read(path)] == [1, 2, 3]


def test_non_object_lines_are_skipped_and_compact_of_nothing_writes_nothing(tmp_path):
    path = tmp_path / "verify.jsonl"
    path.write_text('[1, 2]\n"text"\n{"trial": 0}\n')
    assert journal.read(path) == [{"trial": 0}]
    missing = tmp_path / "none.jsonl"
    journal.compact(missing, [{"x": 1}])
    assert not missing.exists()


def test_write_data_replaces_the_whole_file_and_says_how_it_was_made(tmp_path):
    import json

    import torch

    path = tmp_path / "data" / "results.json"
    journal.write_data(path, {"rows": [1, 2]})
    journal.write_data(path, {"rows": [3]})
    record = json.loads(path.read_text())
    assert record["rows"] == [3] and record["versions"]["torch"] == torch.__version__
    assert record["command"] and record["written"]
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temporary file left
