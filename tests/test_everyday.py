"""Everyday use (issue 25): remembered --field mappings, closed pipes, `show`, `--version`,
completion, output without colour or width, help at 80 columns, and the README's first screen."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NK_SAMPLE, ROOT, run

BYLINE = str(Path(sys.executable).with_name("byline"))


def _feed(path: Path, ids: range) -> None:
    path.write_text("".join(json.dumps({
        "id": f"f{i}", "title": f"Harbour crane {i} repaired", "pub_time": f"2004-03-{i + 1:02d}",
        "text": f"Engineers repaired harbour crane number {i} after the storm damaged its cables."}) + "\n"
        for i in ids))


def _dates(runner, ix: Path) -> dict[str, str | None]:
    found = run(runner, "search", "harbour crane", "--index", ix, "--mode", "lexical", "-o", "json", "-k", "50")
    return {r["id"]: r["date"] for r in json.loads(found.stdout)["results"]}


def test_field_mappings_are_remembered_shown_and_never_blanked(runner, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    _feed(news / "feed.jsonl", range(3))
    (news / "a.txt").write_text("Ferry timetable changes\n\nThe ferry timetable changes next month.")
    ix = tmp_path / "ix"

    first = run(runner, "index", "add", news / "feed.jsonl", "--index", ix, "--field", "date=pub_time", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["unread_fields"] == []
    assert _dates(runner, ix) == {"f0": "2004-03-01", "f1": "2004-03-02", "f2": "2004-03-03"}

    # The routine re-run over the folder, without repeating the mapping.
    again = run(runner, "index", "add", news, "--index", ix, "--json")
    summary = json.loads(again.stdout)
    assert (summary["new"], summary["changed"], summary["unchanged"]) == (1, 0, 3)
    assert summary["fields_remembered"] == {str(news / "feed.jsonl"): {"date": "pub_time"}}
    assert _dates(runner, ix) == {"f0": "2004-03-01", "f1": "2004-03-02", "f2": "2004-03-03"}
    told = run(runner, "index", "add", news, "--index", ix)
    assert f"Read {news / 'feed.jsonl'} with the field mappings given earlier: date=pub_time" in told.stderr

    status = run(runner, "status", "--index", ix, "--json")
    assert json.loads(status.stdout)["field_mappings"] == {str(news / "feed.jsonl"): {"date": "pub_time"}}
    assert "date=pub_time" in run(runner, "status", "--index", ix).stdout

    # The feed moved to a folder no mapping was given for: the field is reported, and the stored
    # dates are kept rather than blanked.
    copy = tmp_path / "moved"
    copy.mkdir()
    shutil.move(news / "feed.jsonl", copy / "feed.jsonl")
    elsewhere = run(runner, "index", "add", copy, "--index", ix, "--json")
    summary = json.loads(elsewhere.stdout)
    assert summary["unread_fields"] == [{"path": str(copy / "feed.jsonl"),
                                         "note": "field pub_time is not read; map it with --field date=pub_time"}]
    assert summary["kept"] == {"date": 3} and summary["changed"] == 0
    assert _dates(runner, ix) == {"f0": "2004-03-01", "f1": "2004-03-02", "f2": "2004-03-03"}


def test_new_mappings_replace_the_remembered_ones(runner, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    feed = news / "feed.jsonl"
    feed.write_text(json.dumps({"id": "x", "title": "Crane", "text": "A harbour crane story.", "pub_time": "2004-03-01",
                                "day": "2004-04-01"}) + "\n")
    ix = tmp_path / "ix"
    run(runner, "index", "add", feed, "--index", ix, "--field", "date=pub_time")
    changed = run(runner, "index", "add", news, "--index", ix, "--field", "date=day", "--json")
    summary = json.loads(changed.stdout)
    assert summary["changed"] == 1 and summary["fields_remembered"] == {}
    assert _dates(runner, ix) == {"x": "2004-04-01"}
    mappings = json.loads(run(runner, "status", "--index", ix, "--json").stdout)["field_mappings"]
    assert mappings == {str(feed): {"date": "day"}, str(news): {"date": "day"}}
