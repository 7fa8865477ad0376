"""Hostile files, hostile index folders, hostile text (issue 22): each attack must be refused or
made harmless, with a clear message and nothing already indexed lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run
from index.documents import Article, Skipped
from index.readers import read_paths


def _ok_article(folder: Path) -> None:
    (folder / "ok.txt").write_text("Rail strike called off\n\nThe union and the operator agreed on pay late on Sunday.\n")


# --- 1. one file's failure skips that file, never the run ------------------------------------


def test_a_deeply_nested_json_file_is_skipped_and_the_rest_is_indexed(tmp_path, runner):
    src = tmp_path / "src"
    src.mkdir()
    (src / "d.json").write_text("[" * 100_000 + "]" * 100_000)
    (src / "e.jsonl").write_text('{"text": "A fine record about harbour dredging."}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    _ok_article(src)
    result = run(runner, "index", "add", src, "--index", tmp_path / "ix", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["new"] == 2
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert "nested too deeply" in reasons[str(src / "d.json")]
    assert "nested too deeply" in reasons[f"{src / 'e.jsonl'}:2"]
    status = run(runner, "status", "--index", tmp_path / "ix", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["articles"] == 2


def test_any_error_a_parser_raises_skips_the_file_with_its_reason(tmp_path):
    # json.loads raises ValueError (not JSONDecodeError) for an integer of more than 4300 digits.
    (tmp_path / "big.json").write_text('{"text": "a body", "id": ' + "7" * 5000 + "}")
    _ok_article(tmp_path)
    items = list(read_paths([tmp_path]))
    [skipped] = [i for i in items if isinstance(i, Skipped)]
    assert skipped.path == str(tmp_path / "big.json") and "ValueError" in skipped.reason
    assert [i.title for i in items if isinstance(i, Article)] == ["Rail strike called off"]


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path):
    # Root reads any folder whatever its mode, so the unlistable folder is one whose path is
    # longer than PATH_MAX (made one level at a time, relative to an open descriptor).
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(25):
        os.mkdir("d" * 200, dir_fd=fd)
        inner = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    _ok_article(tmp_path)
    items = list(read_paths([tmp_path]))
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert len(skipped) == 1 and "too long" in skipped[0].reason
    assert skipped[0].path.startswith(str(tmp_path / ("d" * 200)))
    assert sum(isinstance(i, Article) for i in items) == 1
