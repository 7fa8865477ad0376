"""The Milvus backend against the real engine (milvus-lite 2.5.1, the Milvus C++ build): the same
CLI, answers, filters, deletes, re-adds, saved `--new` and doctor as the local backend.

One Milvus-backed index of the samples (and the reference article) is built for the module; the
tests that change it put it back as it was. milvus-lite admits one process per database file, so
everything runs in this process (typer's CliRunner), never in a subprocess.
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings

import pytest
from typer.testing import CliRunner

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # milvus-lite imports pkg_resources
    pytest.importorskip("milvus_lite", reason="milvus-lite 2.5.1 does not install on this platform "
                                               "(pip install 'byline[milvus]')")
    pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install 'byline[milvus]')")

from conftest import NK, NK_SAMPLE, SAMPLES, SEED, NK_SEED  # noqa: E402
from index import milvus_backend  # noqa: E402
from index.manifest import IndexProblem  # noqa: E402
from search.cli import app  # noqa: E402

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def milvus_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("milvus")
    sources = [SAMPLES] + ([SEED] if (SEED / NK_SEED).is_file() else [])
    ix = folder / "ix"
    added = run("index", "add", *sources, "--index", ix, "--backend", "milvus",
                "--milvus-uri", ix / "archive.db", "--quiet")  # inside the index: no address needed later
    assert added.exit_code == 0, added.stderr
    return ix


def ids(*args) -> list[str]:
    result = run("search", *args, "-o", "ids")
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout.split()


def manifest(ix) -> dict:
    return json.loads((ix / "manifest.json").read_text())


def test_the_manifest_names_the_backend_and_no_faiss_file_is_written(milvus_index):
    m = manifest(milvus_index)
    assert m["backend"] == "milvus" and m["milvus_uri"].endswith("archive.db") and m["vector_index"] == "milvus"
    assert not list(milvus_index.glob("gen-*/*.faiss"))


def test_the_mission_question_finds_the_north_korea_article_first(milvus_index):
    assert ids("who proposed talks without preconditions", "--index", milvus_index)[0] in NK
    answer = run("search", "-a", "who proposed talks without preconditions", "--index", milvus_index)
    assert answer.exit_code == 0 and "preconditions" in answer.stdout and "North Korea" in answer.stdout
    question = ["who proposed talks without preconditions", "--index", milvus_index]
    assert ids(*question, "-m", "semantic")[0] in NK
    # Words alone put the trade-talks sample ("preconditions" three times) first, on Whoosh too.
    assert NK & set(ids(*question, "-m", "lexical")[:2])


def test_filters_run_in_the_engine_and_match_the_local_backend(milvus_index, sample_index):
    query = ["talks", "-m", "lexical", "-k", "50"]
    wire = ids(*query, "--source", "byline sample WIRE", "--index", milvus_index)
    assert wire and NK_SAMPLE in wire
    rows = json.loads(run("search", *query, "--source", "Byline Sample Wire", "-o", "json",
                          "--index", milvus_index).stdout)["results"]
    assert {r["source"] for r in rows} == {"Byline Sample Wire"}
    recent = json.loads(run("search", "talks", "-k", "50", "--since", "2022-06-01", "-o", "json",
                            "--index", milvus_index).stdout)["results"]
    assert recent and all(r["date"] >= "2022-06-01" for r in recent)
    # The same articles pass the same filters on both backends (ranks may differ: BM25 vs BM25F).
    for flags in (["--source", "Byline Sample Wire"], ["--since", "2022-06-01", "--until", "2023-03-31"]):
        assert set(ids(*query, *flags, "--index", milvus_index)) == set(ids(*query, *flags, "--index", sample_index))


def test_remove_and_add_again(milvus_index):
    question = ["who proposed talks without preconditions", "--index", milvus_index]
    before = manifest(milvus_index)["chunks"]
    removed = run("index", "rm", NK_SAMPLE, "--index", milvus_index)
    assert removed.exit_code == 0, removed.stderr
    assert NK_SAMPLE not in ids(*question, "-k", "50")
    doctor = run("doctor", "--index", milvus_index)
    assert doctor.exit_code == 0 and f"{manifest(milvus_index)['chunks']} passages, as in the store" in doctor.stdout
    assert manifest(milvus_index)["chunks"] < before
    added = run("index", "add", SAMPLES, "--index", milvus_index, "--quiet")
    assert added.exit_code == 0 and "1 new" in added.stderr
    assert ids(*question)[0] in NK and NK_SAMPLE in ids(*question)
    assert manifest(milvus_index)["chunks"] == before


def test_similar_articles_come_from_the_engine(milvus_index, sample_index):
    args = ["similar", "2023-01-26-railway-strike.txt", "-o", "ids", "-k", "3"]
    found = run(*args, "--index", milvus_index)
    assert found.exit_code == 0, found.stderr
    assert "2023-02-09-rail-union-accepts-deal.txt" in found.stdout.split()
    assert found.stdout.split()[:1] == run(*args, "--index", sample_index).stdout.split()[:1]


def test_saved_search_new_reports_a_newly_indexed_article_once(milvus_index, tmp_path):
    def saved(*args):
        return run("saved", *args, "--index", milvus_index)

    assert saved("add", "tortoises", "giant tortoise census", "-k", "5").exit_code == 0
    first = saved("run", "tortoises", "--new", "-o", "ids")
    assert first.exit_code == 0
    assert saved("run", "tortoises", "--new", "-o", "ids").exit_code == 1  # nothing new
    article = tmp_path / "tortoise-census.txt"
    article.write_text("Giant tortoise census finds the island population doubled\n\nDate: 2023-10-02\n"
                       "Source: Byline Sample Wire\n\nRangers counting giant tortoises on the island found "
                       "twice as many as a decade ago, the park service said.\n")
    assert run("index", "add", article, "--index", milvus_index, "--quiet").exit_code == 0
    try:
        third = saved("run", "tortoises", "--new", "-o", "ids")
        assert third.exit_code == 0 and third.stdout.split() == ["tortoise-census.txt"]
    finally:
        assert run("index", "rm", "tortoise-census.txt", "--index", milvus_index).exit_code == 0
        saved("rm", "tortoises")


def test_doctor_finds_passages_missing_from_the_collection_and_repairs_them(milvus_index):
    m = manifest(milvus_index)
    client = milvus_backend.connect(m["milvus_uri"])
    names = milvus_backend.Collections.of(m["milvus_collection"])
    victim = sorted(milvus_backend.passage_ids(client, names))[:3]
    client.delete(names.passages, ids=victim)
    broken = run("doctor", "--index", milvus_index)
    assert broken.exit_code == 2 and "3 chunks missing" in broken.stdout
    repaired = run("doctor", "--repair", "--index", milvus_index)
    assert repaired.exit_code == 0, repaired.stdout
    assert set(victim) <= milvus_backend.passage_ids(client, names)


def test_the_next_write_catches_up_after_a_run_stopped_between_the_store_and_milvus(milvus_index, tmp_path):
    import sqlite3

    m = manifest(milvus_index)
    client = milvus_backend.connect(m["milvus_uri"])
    names = milvus_backend.Collections.of(m["milvus_collection"])
    # What a run killed after its commit point leaves: the store at generation g, the collection
    # without g's rows, and the store's record of the last synced generation at g - 1.
    lost = sorted(milvus_backend.passage_ids(client, names))[-2:]
    client.delete(names.passages, ids=lost)
    with sqlite3.connect(milvus_index / "articles.sqlite") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'milvus_generation'", (str(m["generation"] - 1),))
    assert "last synced at generation" in run("doctor", "--index", milvus_index).stdout
    article = tmp_path / "harbour-crane.txt"
    article.write_text("Harbour crane toppled by gusts\n\nDate: 2023-10-09\n\nA crane at the container "
                       "harbour toppled in gusts overnight; nobody was hurt, the port authority said.\n")
    assert run("index", "add", article, "--index", milvus_index, "--quiet").exit_code == 0
    assert set(lost) <= milvus_backend.passage_ids(client, names)  # reconciled, not only the new rows
    assert run("index", "rm", "harbour-crane.txt", "--index", milvus_index).exit_code == 0
    assert run("doctor", "--index", milvus_index).exit_code == 0


def test_engine_hybrid_search_with_rrf_also_finds_it_first(milvus_index):
    from search.retrieval.milvus import engine_hybrid
    from search.retrieval.opened import OpenIndex

    index = OpenIndex(milvus_index)
    question = "who proposed talks without preconditions"
    matrix = index.embedder.encode_queries([question])
    [ranking] = engine_hybrid(index, [question], matrix, 10)
    assert ranking[0][0] in NK and len(ranking) >= 5
    assert len({a for a, _ in ranking}) == len(ranking)  # one place per article
    index.close()


def test_a_backend_is_chosen_when_an_index_is_created(milvus_index, index_copy, tmp_path):
    refused = run("index", "add", SAMPLES, "--index", index_copy, "--backend", "milvus",
                  "--milvus-uri", tmp_path / "other.db", "--quiet")
    assert refused.exit_code == 2 and "uses the local backend" in refused.stderr
    bad = run("index", "add", SAMPLES, "--index", tmp_path / "new", "--backend", "milvus",
              "--milvus-uri", tmp_path / "archive.sqlite")
    assert bad.exit_code == 2 and "ending in .db" in bad.stderr
    assert run("index", "add", SAMPLES, "--index", tmp_path / "x", "--backend", "milvus").exit_code == 2


def test_a_missing_milvus_package_names_the_extra(milvus_index, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # as if it were not installed
    with pytest.raises(IndexProblem, match=r"pip install 'byline\[milvus\]'"):
        milvus_backend.connect("/nonexistent/archive.db")
    searched = run("search", "talks", "--index", milvus_index)
    assert searched.exit_code == 2 and "pip install 'byline[milvus]'" in searched.stderr


def test_a_second_process_cannot_open_the_same_lite_database(milvus_index, tmp_path):
    import subprocess

    uri = manifest(milvus_index)["milvus_uri"]
    code = ("from index.milvus_backend import connect\nfrom index.manifest import IndexProblem\n"
            f"try:\n    connect({uri!r})\nexcept IndexProblem as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=str(SAMPLES.parent))
    assert "open in another process" in out.stdout, out.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
