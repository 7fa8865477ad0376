"""Trust (issue 12): a lost manifest, ids from different folders, Ctrl-C after the commit
point, a search batch across commits, read-only indexes, damage doctor must find, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.doctor import check
from index.layout import IndexPaths
from search.cli import app
from search.opened import OpenIndex
from search.ranker import Ranker, SearchOptions

from conftest import NK, NK_SAMPLE, SAMPLES

BYLINE = str(Path(sys.executable).with_name("byline"))
QUESTION = "who proposed talks without preconditions"


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def story(folder: Path, name: str, title: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{title}\nDate: 2024-03-01\nSource: Test Wire\n\n{body}\n")
    return path


def added(runner, *args) -> dict:
    result = run(runner, "index", "add", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def lexical_ids(runner, ix: Path, query: str) -> list[str]:
    return sorted(run(runner, "search", query, "--index", ix, "-m", "lexical", "-o", "ids", "-k", "50").stdout.split())


# --- 4: a lost manifest -------------------------------------------------------------------------

def test_missing_manifest_is_refused_and_doctor_recreates_it(runner, index_copy, tmp_path):
    paths = IndexPaths(index_copy)
    manifest = json.loads(paths.manifest.read_text())
    store_bytes = paths.store.read_bytes()
    paths.manifest.unlink()
    extra = story(tmp_path / "docs", "x.txt", "Harbour reopens", "The harbour reopened after dredging.")
    refused = run(runner, "index", "add", extra, "--index", index_copy)
    assert refused.exit_code == 2 and "no manifest.json" in refused.stderr and "doctor --repair" in refused.stderr
    assert paths.store.read_bytes() == store_bytes and paths.generations()  # nothing deleted
    assert not check(paths).healthy
    fixed = run(runner, "doctor", "--repair", "--index", index_copy, "--json")
    assert fixed.exit_code == 0, fixed.stdout
    assert any("recreated" in n for n in json.loads(fixed.stdout)["notes"])
    again = json.loads(paths.manifest.read_text())
    for key in ("model_name", "dimension", "chunking", "articles", "chunks", "created"):
        assert again[key] == manifest[key], key
    top = run(runner, "search", QUESTION, "--index", index_copy, "-o", "ids", "-k", "1").stdout.split()
    assert top[0] in NK
    assert added(runner, extra, "--index", index_copy)["new"] == 1


def test_an_interrupted_first_run_is_recognised_by_its_marker(runner, tmp_path):
    new = tmp_path / "new"
    docs = tmp_path / "docs"
    story(docs, "a.txt", "Tram line opens", "The new tram line carried its first riders.")
    added(runner, docs, "--index", new)
    assert not IndexPaths(new).first_run_marker.exists()  # removed at the first commit
    # What a first run killed before its commit leaves: the marker, a store, a generation folder.
    crashed = tmp_path / "crashed"
    shutil.copytree(new, crashed)
    (crashed / "manifest.json").unlink()
    IndexPaths(crashed).first_run_marker.write_text("")
    assert added(runner, docs, "--index", crashed)["new"] == 1
    assert check(IndexPaths(crashed)).healthy


# --- 5: ids from different folders -----------------------------------------------------------

def test_same_file_name_in_two_folders_keeps_both(runner, tmp_path):
    ix = tmp_path / "ix"
    story(tmp_path / "a", "story.txt", "Harbour reopens", "The harbour reopened after dredging.")
    story(tmp_path / "b", "story.txt", "Glacier retreats", "The glacier retreated a record distance.")
    assert added(runner, tmp_path / "a", "--index", ix)["new"] == 1
    second = added(runner, tmp_path / "b", "--index", ix)
    assert (second["new"], second["changed"]) == (1, 0)
    assert lexical_ids(runner, ix, "harbour OR glacier") == ["b/story.txt", "story.txt"]
    again = added(runner, tmp_path / "a", tmp_path / "b", "--index", ix)  # ids are stable
    assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, 2)


def test_feeds_without_record_ids_in_two_folders_keep_both(runner, tmp_path):
    ix = tmp_path / "ix"
    for day, words in (("d1", ("tulips", "violins")), ("d2", ("canals", "lighthouses"))):
        (tmp_path / day).mkdir()
        (tmp_path / day / "feed.jsonl").write_text("".join(
            json.dumps({"title": f"About {w}", "text": f"A story about {w}."}) + "\n" for w in words))
        assert added(runner, tmp_path / day / "feed.jsonl", "--index", ix)["new"] == 2
    assert lexical_ids(runner, ix, "tulips OR violins OR canals OR lighthouses") == [
        "d2/feed.jsonl#1", "d2/feed.jsonl#2", "feed.jsonl#1", "feed.jsonl#2"]


def test_a_real_id_collision_is_a_skip_naming_both_sources(runner, tmp_path):
    ix = tmp_path / "ix"
    for day, text in (("e1", "The ferry sailed at dawn."), ("e2", "The museum opened a new wing.")):
        (tmp_path / day).mkdir()
        (tmp_path / day / "x.jsonl").write_text(json.dumps({"id": "r1", "title": "News", "text": text}) + "\n")
    added(runner, tmp_path / "e1", "--index", ix)
    second = added(runner, tmp_path / "e2", "--index", ix)
    assert (second["new"], second["changed"]) == (0, 0)
    [skip] = second["skipped"]
    assert "r1" in skip["reason"] and str(tmp_path / "e1" / "x.jsonl") in skip["reason"]
    assert str(tmp_path / "e2" / "x.jsonl") in skip["path"]
    assert lexical_ids(runner, ix, "ferry OR museum") == ["r1"]
    assert lexical_ids(runner, ix, "ferry") == ["r1"]  # the first one was not replaced


def test_moved_files_are_not_re_embedded_and_their_path_follows(runner, tmp_path):
    ix = tmp_path / "ix"
    story(tmp_path / "old", "story.txt", "Harbour reopens", "The harbour reopened after dredging.")
    (tmp_path / "old" / "feed.jsonl").write_text(json.dumps({"id": "f1", "title": "Tram", "text": "The tram ran."}) + "\n")
    added(runner, tmp_path / "old", "--index", ix)
    (tmp_path / "old").rename(tmp_path / "new")
    moved = added(runner, tmp_path / "new", "--index", ix)
    assert (moved["new"], moved["changed"], moved["unchanged"], moved["chunks"]) == (0, 0, 2, 0)
    found = json.loads(run(runner, "search", "harbour", "--index", ix, "-m", "lexical", "-o", "json").stdout)
    assert found["results"][0]["path"] == str(tmp_path / "new" / "story.txt")
    assert check(IndexPaths(ix)).healthy


def test_articles_hashed_with_their_path_by_older_versions_stay_unchanged(runner, tmp_path):
    from index.documents import Article

    ix = tmp_path / "ix"
    path = story(tmp_path / "docs", "a.txt", "Harbour reopens", "The harbour reopened after dredging.")
    added(runner, tmp_path / "docs", "--index", ix)
    db = sqlite3.connect(ix / "articles.sqlite")
    row = db.execute("SELECT id, title, text, date, source, url, author, path FROM articles").fetchone()
    db.execute("UPDATE articles SET hash=?", (Article(*row).legacy_hash(str(path)),))
    db.commit()
    db.close()
    again = added(runner, tmp_path / "docs", "--index", ix)
    assert (again["unchanged"], again["changed"], again["chunks"]) == (1, 0, 0)


# --- 6: Ctrl-C right after the commit point --------------------------------------------------------

def test_ctrl_c_after_the_manifest_rename_keeps_the_committed_run(runner, index_copy, tmp_path, monkeypatch):
    from index import manifest as manifest_module

    real_replace = os.replace

    def replace_then_sigint(src, dst):
        real_replace(src, dst)
        if str(dst).endswith("manifest.json"):
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, arriving just after the rename

    monkeypatch.setattr(manifest_module.os, "replace", replace_then_sigint)
    extra = story(tmp_path / "docs", "x.txt", "Flamingos nest", "Flamingos now nest beside the tram depot.")
    result = run(runner, "index", "add", extra, "--index", index_copy)
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    assert "committed" in result.stderr and "as it was before" not in result.stderr
    assert lexical_ids(runner, index_copy, "flamingos") == ["x.txt"]
    assert check(IndexPaths(index_copy)).healthy


# --- 7: a search process keeps its generation ---------------------------------------------------

def test_hybrid_batch_keeps_its_generation_across_two_commits(runner, index_copy):
    ix = OpenIndex(index_copy)
    try:
        opened = ix.generation
        for name in ("2023-01-26-railway-strike.txt", NK_SAMPLE):
            assert run(runner, "index", "rm", name, "--index", index_copy).exit_code == 0
        assert not IndexPaths(index_copy).generation(opened).exists()  # removed by the second commit
        results = Ranker(ix, SearchOptions(mode="hybrid", k=3)).search_many([QUESTION, "rail strike pay"])
        assert results[0][0].article.id in NK and results[1][0].article.id == "2023-01-26-railway-strike.txt"
    finally:
        ix.close()
    assert NK_SAMPLE not in run(runner, "search", QUESTION, "--index", index_copy, "-o", "ids").stdout.split()
