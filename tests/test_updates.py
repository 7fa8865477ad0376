"""Keeping an index for years: incremental updates, removal, sync, doctor, crash safety,
concurrent readers and writers, and bad input that must never lose what was indexed."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.builder import write_lock
from index.doctor import check
from index.layout import IndexPaths
from search.retrieval.opened import OpenIndex
from search.ranking.ranker import Ranker, SearchOptions

from conftest import NK_SAMPLE, SAMPLES, run

BYLINE = str(Path(sys.executable).with_name("byline"))
QUESTION = "who proposed talks without preconditions"


def article(folder: Path, name: str, title: str, body: str, date: str = "2024-03-01") -> Path:
    path = folder / name
    path.write_text(f"{title}\nDate: {date}\nSource: Test Wire\n\n{body}\n")
    return path


def state(index: Path) -> tuple[frozenset, tuple]:
    """What a reader sees: the article ids and the top results of a fixed query."""
    ix = OpenIndex(index)
    try:
        ids = frozenset(ix.store.article_hashes())
        top = tuple(r.article.id for r in Ranker(ix, SearchOptions(k=5)).search(QUESTION))
        return ids, top
    finally:
        ix.close()


def test_incremental_add_reports_new_changed_unchanged(runner, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    article(docs, "a.txt", "Harbour reopens", "The harbour reopened after dredging work.")
    article(docs, "b.txt", "Tram line opens", "The new tram line carried its first riders.")
    ix = tmp_path / "ix"
    first = json.loads(run(runner, "index", "add", docs, "--index", ix, "--json").stdout)
    assert (first["new"], first["changed"], first["unchanged"]) == (2, 0, 0)
    article(docs, "b.txt", "Tram line opens", "Flamingos now nest beside the new tram depot.")
    article(docs, "c.txt", "Bridge repaired", "Engineers repaired the old stone bridge.")
    second = json.loads(run(runner, "index", "add", docs, "--index", ix, "--json").stdout)
    assert (second["new"], second["changed"], second["unchanged"]) == (1, 1, 1)
    ids = lambda q: run(runner, "search", q, "--index", ix, "-m", "lexical", "-o", "ids").stdout.split()  # noqa: E731
    assert ids("flamingos") == ["b.txt"]
    assert ids("riders") == []  # the old text of the changed article is gone
    assert check(IndexPaths(ix)).healthy


def test_rm_by_id_and_path_and_sync(runner, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    paths = [article(docs, f"{n}.txt", f"Story {n}", f"Body of story {n} about {w}.")
             for n, w in (("a", "tulips"), ("b", "glaciers"), ("c", "violins"), ("d", "lighthouses"))]
    ix = tmp_path / "ix"
    run(runner, "index", "add", docs, "--index", ix)
    assert run(runner, "index", "rm", "a.txt", "--index", ix).exit_code == 0
    assert run(runner, "index", "rm", paths[1], "--index", ix).exit_code == 0
    missing = run(runner, "index", "rm", "nope.txt", "--index", ix)
    assert missing.exit_code == 1 and "not in the index: nope.txt" in missing.stderr
    paths[2].unlink()
    article(docs, "e.txt", "Story e", "Body of story e about canals.")
    found = lambda: sorted(run(  # noqa: E731
        runner, "search", "tulips OR glaciers OR violins OR lighthouses OR canals", "--index", ix,
        "-m", "lexical", "-o", "ids").stdout.split())
    assert found() == ["c.txt", "d.txt"]
    # sync mirrors the folder: the removed-but-present a and b come back, c (deleted) goes, e is new.
    synced = json.loads(run(runner, "index", "sync", docs, "--index", ix, "--json").stdout)
    assert (synced["new"], synced["removed"], synced["unchanged"]) == (3, 1, 1)
    assert json.loads(run(runner, "status", "--index", ix, "--json").stdout)["articles"] == 4
    assert found() == ["a.txt", "b.txt", "d.txt", "e.txt"]
    assert check(IndexPaths(ix)).healthy


def test_doctor_finds_truncated_vectors_and_repair_fixes_them(runner, index_copy):
    ix = IndexPaths(index_copy)
    g = json.loads(ix.manifest.read_text())["generation"]
    vectors = ix.vectors(g)
    vectors.write_bytes(vectors.read_bytes()[:1000])
    broken = run(runner, "search", QUESTION, "--index", index_copy)
    assert broken.exit_code == 2 and "vector index" in broken.stderr
    report = run(runner, "doctor", "--index", index_copy, "--json")
    assert report.exit_code == 2
    assert any("vector index cannot be read" in p for p in json.loads(report.stdout)["problems"])
    fixed = run(runner, "doctor", "--index", index_copy, "--repair", "--json")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["healthy"]
    assert run(runner, "search", QUESTION, "--index", index_copy, "-o", "ids", "-k", "1").stdout.split()[0] in {
        NK_SAMPLE, "north-korea-missile-tests.txt"}


def test_second_writer_fails_clearly(runner, index_copy, tmp_path):
    article(tmp_path, "x.txt", "Extra", "An extra article.")
    with write_lock(IndexPaths(index_copy)):
        result = subprocess.run([BYLINE, "index", "add", str(tmp_path / "x.txt"), "--index", str(index_copy)],
                                capture_output=True, text=True)
    assert result.returncode == 2 and "another byline process is writing" in result.stderr
    assert run(runner, "index", "add", tmp_path / "x.txt", "--index", index_copy).exit_code == 0


def test_kill_during_index_add_leaves_before_or_after(index_copy, tmp_path):
    """SIGKILL a real `byline index add` at many moments; readers must always see either the
    index as it was or as it became, searches must keep working meanwhile, and the next run must
    finish cleanly."""
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs)  # new paths: every sample counts as changed (re-embedded)
    (docs / NK_SAMPLE).write_text((docs / NK_SAMPLE).read_text() + "\nEnvoys met again in Geneva.\n")
    texts = [p.read_text().split("\n\n", 1)[1] for p in sorted(SAMPLES.glob("*.txt"))]
    rng = random.Random(7)
    for n in range(24):
        article(docs, f"extra-{n:02d}.txt", f"Extra story {n}", " ".join(rng.sample(texts, 2)))

    before = state(index_copy)
    after_dir = tmp_path / "after"
    shutil.copytree(index_copy, after_dir)
    started = time.perf_counter()
    subprocess.run([BYLINE, "index", "add", str(docs), "--index", str(after_dir), "-q"], check=True)
    full = time.perf_counter() - started
    after = state(after_dir)
    assert before != after

    cmd = [BYLINE, "index", "add", str(docs), "--index", str(index_copy), "-q"]
    delays = sorted(rng.uniform(0.3, full) for _ in range(6))
    seen = set()
    for delay in delays:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.perf_counter() + delay
        while time.perf_counter() < deadline and proc.poll() is None:
            assert state(index_copy) in (before, after)  # readers work during the write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = state(index_copy)
        assert now in (before, after), f"mixed state after a kill at {delay:.1f}s"
        seen.add(now == after)
        assert check(IndexPaths(index_copy)).healthy
        if now == after:
            break
    subprocess.run(cmd, check=True)
    assert state(index_copy) == after
    assert check(IndexPaths(index_copy)).healthy
    assert False in seen  # at least one kill landed mid-run


def test_bad_inputs_are_reported_and_nothing_indexed_is_lost(runner, index_copy, tmp_path):
    before = state(index_copy)
    bad = tmp_path / "bad"
    (bad / "a" / "b" / "c" / "d").mkdir(parents=True)
    (bad / "empty.txt").write_text("")
    (bad / "renamed.txt").write_bytes(bytes(range(256)) * 40)
    (bad / "invalid-utf8.txt").write_bytes(b"Title\n\n\x81\x8d\x8f\x90\x9d broken bytes")
    with open(bad / "huge.txt", "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (bad / "broken.jsonl").write_text('{"id": "ok1", "title": "Fine", "text": "A fine record."}\n{"id": \n')
    (bad / "missing.csv").write_text("id,headline\nx1,Only a headline column\n")
    (bad / "script.html").write_text("<html><head><script>alert(1)</script></head></html>")
    (bad / "a" / "b" / "c" / "d" / "deep.txt").write_text("Deep story\n\nFound at depth four.")
    (bad / "a" / "loop").symlink_to(bad / "a")
    (bad / "dangling.txt").symlink_to(bad / "nowhere.txt")
    result = run(runner, "index", "add", bad, "--index", index_copy, "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    reasons = {Path(s["path"]).name: s["reason"] for s in summary["skipped"]}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["renamed.txt"] == "binary file, not text"
    assert "not UTF-8" in reasons["invalid-utf8.txt"]
    assert "too large" in reasons["huge.txt"]
    assert "invalid JSON" in reasons["broken.jsonl:2"]
    assert "no text field" in reasons["missing.csv:2"]
    assert reasons["script.html"] == "no article text found"
    assert "cannot read" in reasons["dangling.txt"]
    assert summary["new"] == 2  # ok1 and deep.txt
    ids, _ = state(index_copy)
    assert before[0] < ids and {"ok1", "a/b/c/d/deep.txt"} <= ids


@pytest.mark.parametrize("query, message", [
    ('"unbalanced', "unbalanced double quote"),
    ("(missiles OR sanctions", "unbalanced parentheses"),
    ("x " * 3000, "the limit is"),
])
def test_bad_queries_exit_2_with_a_message(runner, sample_index, query, message):
    result = run(runner, "search", query, "--index", sample_index)
    assert result.exit_code == 2 and message in result.stderr


def test_unreadable_file_is_skipped(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    from index.readers import read_paths

    path = article(tmp_path, "secret.txt", "Secret", "Hidden.")
    path.chmod(0)
    [skipped] = list(read_paths([tmp_path]))
    assert "cannot read" in skipped.reason


def test_hnsw_index_past_the_threshold_handles_removals(runner, tmp_path, monkeypatch):
    """Past the threshold the vectors go into HNSW, which cannot delete: removed passages stay
    as stale vectors that searches drop, until they pass MAX_STALE and the index is rebuilt."""
    from index import vectors

    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", 10)
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs)
    ix = tmp_path / "ix"
    run(runner, "index", "add", docs, "--index", ix)
    status = json.loads(run(runner, "status", "--index", ix, "--json").stdout)
    assert status["vector_index"] == "hnsw"
    assert run(runner, "search", QUESTION, "--index", ix, "-m", "semantic", "-o", "ids").stdout.split()[0] == NK_SAMPLE

    assert run(runner, "index", "rm", NK_SAMPLE, "--index", ix).exit_code == 0
    found = run(runner, "search", QUESTION, "--index", ix, "-m", "semantic", "-o", "ids", "-k", "50").stdout.split()
    assert NK_SAMPLE not in found and found
    checkup = check(IndexPaths(ix))
    assert checkup.healthy and any("stale vectors" in n for n in checkup.notes)

    removed_chunks = 0
    for path in sorted(docs.glob("202[13]-*"))[:8]:
        before = json.loads(run(runner, "status", "--index", ix, "--json").stdout)["chunks"]
        run(runner, "index", "rm", path, "--index", ix)
        removed_chunks += before - json.loads(run(runner, "status", "--index", ix, "--json").stdout)["chunks"]
    manifest = json.loads((ix / "manifest.json").read_text())
    stored = vectors.load(IndexPaths(ix).vectors(manifest["generation"]), 384)
    # Rebuilt whenever stale vectors passed MAX_STALE, so far fewer remain than were removed.
    assert manifest["chunks"] <= stored.ntotal <= manifest["chunks"] * (1 + vectors.MAX_STALE)
    assert stored.ntotal < manifest["chunks"] + removed_chunks
    assert check(IndexPaths(ix)).healthy


def test_interrupted_first_run_leaves_a_folder_that_can_be_indexed(index_copy, tmp_path):
    """Killed before its first commit, a new index has no manifest; the next run starts afresh."""
    new = tmp_path / "new-index"
    proc = subprocess.Popen([BYLINE, "index", "add", str(SAMPLES), "--index", str(new), "-q"])
    deadline = time.perf_counter() + 120
    while not (new / "articles.sqlite").exists() and time.perf_counter() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (new / "manifest.json").exists()
    done = subprocess.run([BYLINE, "index", "add", str(SAMPLES), "--index", str(new), "-q"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert check(IndexPaths(new)).healthy
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "notes.txt").write_text("mine")
    refused = subprocess.run([BYLINE, "index", "add", str(SAMPLES), "--index", str(tmp_path / "stranger")],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "not a byline index" in refused.stderr
    assert (tmp_path / "stranger" / "notes.txt").read_text() == "mine"


TOPICS = ["volcano eruption ash cloud", "central bank interest rates", "football cup final", "vaccine trial results",
          "rail strike commuters", "wildfire evacuation", "chess championship", "satellite launch orbit",
          "wheat harvest drought", "art museum theft", "cyber attack hospital", "marathon world record",
          "coral reef bleaching", "parliament budget vote", "opera premiere", "earthquake rescue teams",
          "electric car factory", "whale migration survey", "bridge collapse inquiry", "film festival award"]


def test_batches_encoded_beside_writing_keep_each_vector_with_its_passage(embedder, tmp_path, monkeypatch):
    """Ingest encodes a batch in a thread while it writes the one before (index/builder.py). With
    batches of 8 passages, 20 articles go through several batches in flight, and every stored vector
    is its own passage's: of all passages encoded alone, the closest is that passage."""
    import numpy as np

    from index import builder
    from index.documents import Chunk
    from index.manifest import load_manifest
    from index.store import ArticleStore

    monkeypatch.setattr(builder, "BATCH_CHUNKS", 8)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, topic in enumerate(TOPICS):
        body = "\n\n".join(f"Reporters covered the {topic} on day {day}. Officials said the {topic} "
                           f"drew attention across the region, and residents described it in detail."
                           for day in range(1, 9))
        article(docs, f"{i:02d}.txt", topic.title(), body)
    paths = IndexPaths(tmp_path / "ix")
    report = builder.add_paths(paths, [docs], embedder)
    assert report.new == len(TOPICS) and report.chunks > 3 * builder.BATCH_CHUNKS
    store = ArticleStore(paths.store, load_manifest(paths).generation, readonly=True)
    rows = [row for part in store.iter_chunks_for_rebuild() for row in part]
    store.close()
    assert len(rows) == report.chunks
    stored = np.stack([np.frombuffer(row[3], dtype=np.float32) for row in rows])
    alone = embedder.encode([Chunk("", 0, row[2], row[4]).embedding_text() for row in rows])
    similarity = stored @ alone.T
    assert (similarity.argmax(axis=1) == np.arange(len(rows))).all()
    assert similarity.diagonal().min() > 0.97
