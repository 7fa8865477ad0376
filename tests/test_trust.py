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

from index.doctor import check
from index.layout import IndexPaths
from search.retrieval.opened import OpenIndex
from search.ranking.ranker import Ranker, SearchOptions

from conftest import NK, NK_SAMPLE, SAMPLES, run

BYLINE = str(Path(sys.executable).with_name("byline"))
QUESTION = "who proposed talks without preconditions"


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
    report = run(runner, "doctor", "--repair", "--index", crashed)
    assert report.exit_code == 2 and "first run did not finish" in report.stdout
    assert added(runner, docs, "--index", crashed)["new"] == 1
    assert check(IndexPaths(crashed)).healthy


# --- 5: ids from different folders -----------------------------------------------------------

def test_same_file_name_in_two_folders_keeps_both(runner, tmp_path):
    ix, src = tmp_path / "ix", tmp_path / "src"
    story(src / "a", "story.txt", "Harbour reopens", "The harbour reopened after dredging.")
    story(src / "b", "story.txt", "Glacier retreats", "The glacier retreated a record distance.")
    assert added(runner, src / "a", "--index", ix)["new"] == 1
    second = added(runner, src / "b", "--index", ix)
    assert (second["new"], second["changed"]) == (1, 0)
    assert lexical_ids(runner, ix, "harbour OR glacier") == ["b/story.txt", "story.txt"]
    again = added(runner, src / "a", src / "b", "--index", ix)  # ids are stable
    assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, 2)
    parent = added(runner, src, "--index", ix)  # read as a/story.txt: still the stored article
    assert (parent["new"], parent["changed"], parent["unchanged"]) == (0, 0, 2)


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
        # Both removed articles are still found: the batch reads the generation it opened.
        assert results[0][0].article.id in NK
        assert "2023-01-26-railway-strike.txt" in [r.article.id for r in results[1]]
    finally:
        ix.close()
    assert NK_SAMPLE not in run(runner, "search", QUESTION, "--index", index_copy, "-o", "ids").stdout.split()


# --- 12: read-only indexes ------------------------------------------------------------------------

def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


class ReadOnly:
    """A read-only view of a folder: a read-only bind mount (root), else immutable files
    (chattr +i); root ignores permission bits, so chmod would prove nothing here."""

    def __init__(self, folder: Path):
        self.folder, self.view, self.how = folder, None, None

    def __enter__(self) -> Path:
        target = self.folder.with_name(self.folder.name + "-ro")
        target.mkdir()
        if subprocess.run(["mount", "--bind", "-o", "ro", str(self.folder), str(target)],
                          capture_output=True).returncode == 0:
            self.view, self.how = target, "mount"
        elif shutil.which("chattr") and subprocess.run(["chattr", "-R", "+i", str(self.folder)],
                                                       capture_output=True).returncode == 0:
            self.view, self.how = self.folder, "chattr"
        else:
            pytest.skip("cannot make a read-only folder here (no bind mount, no chattr +i)")
        try:
            (self.view / "probe").touch()
        except OSError:
            return self.view
        (self.view / "probe").unlink()
        self.__exit__()
        pytest.skip(f"{self.how} did not make the folder read-only")

    def __exit__(self, *exc) -> None:
        if self.how == "mount":
            subprocess.run(["umount", "-l", str(self.view)], check=True)  # lazily: in-process searches keep files open
        elif self.how == "chattr":
            subprocess.run(["chattr", "-R", "-i", str(self.folder)], check=True)


def test_a_read_only_index_is_searchable(runner, index_copy, tmp_path):
    old_style = tmp_path / "old-style" / "ix"  # a store left in WAL mode, as earlier versions did
    shutil.copytree(index_copy, old_style)
    db = sqlite3.connect(old_style / "articles.sqlite")
    assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    db.close()
    for folder in (index_copy, old_style):
        assert not (folder / "articles.sqlite-wal").exists()
        before = _files(folder)
        with ReadOnly(folder) as ro:
            for mode in ("lexical", "hybrid"):
                found = run(runner, "search", QUESTION, "--index", ro, "-m", mode, "-o", "ids", "-k", "1")
                assert found.exit_code == 0, found.output
                assert mode == "lexical" or found.stdout.split()[0] in NK
            assert run(runner, "status", "--index", ro, "--json").exit_code == 0
            doctor = run(runner, "doctor", "--index", ro, "--json")
            assert doctor.exit_code == 0 and json.loads(doctor.stdout)["healthy"], doctor.stdout
            # 11: saved searches need a writable folder; said clearly, no traceback
            refused = run(runner, "saved", "add", "talks", QUESTION, "--index", ro)
            assert refused.exit_code == 2 and "cannot write saved searches" in refused.stderr
        assert _files(folder) == before


def test_searches_create_no_files_in_the_index_folder(runner, index_copy):
    before = _files(index_copy)
    assert run(runner, "search", QUESTION, "--index", index_copy, "-o", "ids").exit_code == 0
    assert run(runner, "status", "--index", index_copy).exit_code == 0
    assert _files(index_copy) == before


def test_saved_run_new_on_a_read_only_index_exits_2(runner, index_copy):
    assert run(runner, "saved", "add", "talks", QUESTION, "--index", index_copy).exit_code == 0
    with ReadOnly(index_copy) as ro:
        result = run(runner, "saved", "run", "talks", "--new", "--index", ro, "-o", "ids")
        assert result.exit_code == 2 and "cannot write saved searches" in result.stderr
        assert result.stdout == ""  # refused before anything was printed
        assert run(runner, "saved", "run", "talks", "--index", ro, "-o", "ids").exit_code == 0


# --- 13: doctor finds damage in every file ------------------------------------------------------

def _generation_file(index: Path, suffix: str) -> Path:
    g = json.loads((index / "manifest.json").read_text())["generation"]
    # The passage index's file (the article index beside it has files of the same names).
    folder = IndexPaths(index).generation(g) if suffix.endswith(".faiss") else IndexPaths(index).lexical(g)
    [path] = [p for p in folder.rglob("*") if p.name.endswith(suffix)]
    return path


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _doctor(runner, index: Path, *args) -> tuple[int, dict]:
    result = run(runner, "doctor", "--index", index, "--json", *args)
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("damage", ["truncate .pst", "truncate _body_len.col", "delete _body_len.col",
                                    "flip a byte of vectors.faiss"])
def test_doctor_finds_damaged_derived_files_and_repair_fixes_them(runner, index_copy, damage):
    verb, name = damage.split(" ", 1)
    path = _generation_file(index_copy, name.rsplit(" ", 1)[-1])
    if verb == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif verb == "delete":
        path.unlink()
    else:
        _flip_byte(path, path.stat().st_size // 2)
    status, report = _doctor(runner, index_copy)
    assert status == 2 and any(path.name in p for p in report["problems"]), report
    status, report = _doctor(runner, index_copy, "--repair")
    assert status == 0 and report["healthy"], report


def test_doctor_finds_flipped_bytes_in_the_article_store(runner, index_copy):
    store = index_copy / "articles.sqlite"
    data = store.read_bytes()
    offset = data.rindex(b"preconditions")  # in a passage row
    _flip_byte(store, offset + 3)
    status, report = _doctor(runner, index_copy)
    assert status == 2 and any("differ from what was written" in p for p in report["problems"]), report
    assert any("north-korea" in p for p in report["problems"])


def test_doctor_repair_force_rebuilds_a_healthy_index(runner, index_copy):
    before = json.loads((index_copy / "manifest.json").read_text())["generation"]
    assert run(runner, "doctor", "--force", "--index", index_copy).exit_code == 2  # needs --repair
    status, report = _doctor(runner, index_copy, "--repair", "--force")
    assert status == 0 and report["repaired"] and report["healthy"]
    assert json.loads((index_copy / "manifest.json").read_text())["generation"] == before + 1


# --- 11: clear errors instead of tracebacks --------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root); disk-full handling is not tested")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_disk_full_while_indexing_is_a_clear_error_and_costs_nothing(runner, small_disk, tmp_path):
    ix = small_disk / "ix"
    added(runner, SAMPLES, "--index", ix)
    more = tmp_path / "more"
    text = (SAMPLES / NK_SAMPLE).read_text()
    for n in range(30):
        more.mkdir(exist_ok=True)
        (more / f"x{n}.txt").write_text(f"{text}\nExtra paragraph {n} on envoys and talks.\n")
    before = lexical_ids(runner, ix, "talks")
    for free_kb in (8, 64, 200):  # fails in SQLite, Whoosh or FAISS, depending on the room left
        filler = small_disk / "filler"
        filler.unlink(missing_ok=True)
        room = os.statvfs(small_disk)
        filler.write_bytes(b"\0" * max(0, room.f_bavail * room.f_frsize - free_kb * 1024))
        result = subprocess.run([BYLINE, "index", "add", str(more), "--index", str(ix), "-q"],
                                capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert "disk full" in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert "as it was before this run" in result.stderr
        filler.unlink()
        assert lexical_ids(runner, ix, "talks") == before
        assert check(IndexPaths(ix)).healthy


def test_a_truncated_article_store_is_a_clear_error(runner, index_copy):
    store = index_copy / "articles.sqlite"
    store.write_bytes(store.read_bytes()[:3000])
    for args in (["search", QUESTION, "-m", "lexical"], ["search", QUESTION], ["status"]):
        result = run(runner, *args, "--index", index_copy)
        assert result.exit_code == 2 and str(store) in result.stderr, (args, result.output)


@pytest.mark.parametrize("suffix, how", [("_stored.col", "truncate"), ("_stored.col", "delete"),
                                         (".trm", "truncate"), (".trm", "delete"),
                                         (".pst", "truncate"), (".pst", "delete")])
def test_damaged_whoosh_files_are_a_clear_error(runner, index_copy, suffix, how):
    path = _generation_file(index_copy, suffix)
    if how == "truncate":
        path.write_bytes(path.read_bytes()[:10])
    else:
        path.unlink()
    result = subprocess.run([BYLINE, "search", QUESTION, "--index", str(index_copy), "-m", "lexical"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert str(IndexPaths(index_copy).root) in result.stderr and "byline doctor" in result.stderr


def test_search_to_a_full_device_exits_2(sample_index):
    with open("/dev/full", "w") as full:
        result = subprocess.run([BYLINE, "search", QUESTION, "--index", str(sample_index), "-m", "lexical"],
                                stdout=full, stderr=subprocess.PIPE, text=True)
    assert result.returncode == 2 and "cannot write the results" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_deeply_nested_saved_json_is_a_clear_error(runner, index_copy):
    saved = index_copy / "saved"
    (saved / "state").mkdir(parents=True)
    deep = "[" * 100_000 + "]" * 100_000
    (saved / "searches.json").write_text(deep)
    listed = run(runner, "saved", "list", "--index", index_copy)
    assert listed.exit_code == 2 and "nested too deeply" in listed.stderr
    (saved / "searches.json").write_text(json.dumps({"version": 1, "searches": {"t": {"query": QUESTION}}}))
    (saved / "state" / "t.json").write_text(deep)
    result = run(runner, "saved", "run", "t", "--new", "--index", index_copy)
    assert result.exit_code == 2 and "nested too deeply" in result.stderr and "--reset" in result.stderr


# --- 15: what killed runs leave, folders that are not indexes, active writers ------------------

def test_temp_files_of_killed_runs_are_cleaned_by_the_next_run(runner, index_copy, tmp_path):
    (index_copy / ".manifest.json.abc123").write_text("{half a manif")
    assert run(runner, "saved", "add", "talks", QUESTION, "--index", index_copy).exit_code == 0
    (index_copy / "saved" / ".searches.json.x1y2").write_text("{")
    (index_copy / "saved" / "state").mkdir(exist_ok=True)
    (index_copy / "saved" / "state" / ".talks.json.q9").write_text("{")
    added(runner, story(tmp_path / "docs", "x.txt", "Harbour reopens", "The harbour reopened."), "--index", index_copy)
    assert not (index_copy / ".manifest.json.abc123").exists()
    assert run(runner, "saved", "run", "talks", "--new", "--index", index_copy, "-o", "ids").exit_code == 0
    assert not list((index_copy / "saved").rglob(".*.json.*"))


def test_index_add_into_a_folder_that_is_not_an_index_leaves_no_lock(runner, tmp_path):
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    refused = run(runner, "index", "add", SAMPLES, "--index", stranger)
    assert refused.exit_code == 2 and "not a byline index" in refused.stderr
    assert sorted(p.name for p in stranger.iterdir()) == ["notes.txt"]


def test_doctor_does_not_call_an_active_writer_an_interrupted_run(index_copy):
    from index.builder import write_lock

    paths = IndexPaths(index_copy)
    g = json.loads(paths.manifest.read_text())["generation"]
    paths.generation(g + 1).mkdir()  # what a running writer has made so far
    with write_lock(paths):
        notes = check(paths).notes
    assert any("is writing to this index now" in n for n in notes), notes
    assert not any("interrupted" in n for n in notes)
    assert any("interrupted" in n for n in check(paths).notes)  # once the writer is gone, it is one
