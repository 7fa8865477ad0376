"""The `byline` command: indexing, every output format, batch queries, errors and exit statuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.embedder import resolve_model

from conftest import NK, ROOT, run

QUESTION = "who proposed talks without preconditions"
BYLINE = str(Path(sys.executable).with_name("byline"))


def test_index_add_mixed_formats_skips_bad_files_and_summarises(runner, tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("Harbour reopens\nDate: 2024-02-01\nSource: Test Wire\n\nThe harbour reopened after dredging.")
    (docs / "sub" / "b.jsonl").write_text(json.dumps({"id": "j1", "title": "Tram line opens", "text": "The new tram line opened."}) + "\n{oops\n")
    (docs / "c.csv").write_text("id,title,body\nc1,Bridge repaired,Engineers repaired the old bridge.\n")
    (docs / "d.html").write_text("<html><title>Zoo</title><body><p>The zoo welcomed a baby giraffe.</p></body></html>")
    (docs / "e.txt").write_bytes(b"\x00\x01\x02binary")
    (docs / "f.txt").write_text("")
    ix = tmp_path / "ix"
    result = run(runner, "index", "add", docs, "--index", ix, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["new"] == 4 and summary["chunks"] >= 4
    skipped = {Path(s["path"]).name: s["reason"] for s in summary["skipped"]}
    assert skipped == {"b.jsonl:2": skipped["b.jsonl:2"], "e.txt": "binary file, not text", "f.txt": "empty file"}
    found = run(runner, "search", "giraffe", "--index", ix, "--format", "ids", "--mode", "lexical")
    assert found.stdout.split() == ["d.html"]
    again = run(runner, "index", "add", docs, "--index", ix, "--json")
    assert json.loads(again.stdout)["unchanged"] == 4


def test_search_json_result_fields(runner, sample_index):
    result = run(runner, "search", QUESTION, "--index", sample_index, "--format", "json", "-k", "3")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["query"] == QUESTION and len(data["results"]) == 3
    top = data["results"][0]
    assert top["id"] in NK and top["rank"] == 1
    assert set(top) >= {"rank", "score", "id", "title", "date", "source", "path", "passage", "highlights"}
    assert all(top["passage"][s:e] for s, e in top["highlights"])


def test_search_jsonl_trec_ids_and_table(runner, sample_index):
    jsonl = run(runner, "search", QUESTION, "--index", sample_index, "-o", "jsonl", "-k", "4").stdout.splitlines()
    assert len(jsonl) == 4 and json.loads(jsonl[0])["query_id"] == "1"
    trec = run(runner, "search", QUESTION, "--index", sample_index, "-o", "trec", "-k", "2", "-m", "semantic").stdout
    first = trec.splitlines()[0].split()
    assert first[:4] == ["1", "Q0", first[2], "1"] and first[2] in NK and first[5] == "byline-semantic"
    ids = run(runner, "search", QUESTION, "--index", sample_index, "-o", "ids", "-k", "5").stdout.split()
    assert len(ids) == 5 and ids[0] in NK
    table = run(runner, "search", QUESTION, "--index", sample_index, "-o", "table", "-k", "2").stdout
    assert "best passage" in table and "preconditions" in table


def test_batch_queries_jsonl_and_plain_lines(runner, sample_index, tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(json.dumps({"_id": "nk", "text": QUESTION}) + "\n" + json.dumps({"_id": "t", "text": "turtle nesting"}) + "\n")
    trec = run(runner, "search", "--queries", qfile, "--index", sample_index, "-o", "trec", "-k", "1").stdout.splitlines()
    assert [line.split()[0] for line in trec] == ["nk", "t"]
    assert trec[1].split()[2] == "2022-05-19-sea-turtle-nesting-record.txt"
    plain = tmp_path / "q.txt"
    # "rail strike pay" now finds the follow-up sample (the deal that ended the strike) first.
    plain.write_text("turtle nesting\n\nrail workers walk out over pay\n")
    data = json.loads(run(runner, "search", "-Q", plain, "--index", sample_index, "-o", "json", "-k", "1").stdout)
    assert [(a["query_id"], a["results"][0]["id"]) for a in data] == [
        ("1", "2022-05-19-sea-turtle-nesting-record.txt"), ("3", "2023-01-26-railway-strike.txt")]


def test_filters_on_the_command_line(runner, sample_index):
    out = run(runner, "search", "talks", "--index", sample_index, "-o", "json", "-k", "20",
              "--source", "continental ledger", "--since", "2021-10-01", "--until", "2021-12-31")
    results = json.loads(out.stdout)["results"]
    assert [r["id"] for r in results] == ["2021-12-03-iran-vienna-talks-stall.txt"]
    bad = run(runner, "search", "talks", "--index", sample_index, "--since", "last tuesday")
    assert bad.exit_code == 2 and "not a date" in bad.stderr


def test_exit_statuses(runner, sample_index, tmp_path):
    assert run(runner, "search", "turtles", "--index", sample_index, "-o", "ids").exit_code == 0
    none = run(runner, "search", "zzzyqx", "--index", sample_index, "-m", "lexical", "-o", "ids")
    assert none.exit_code == 1 and none.stdout == ""
    bad = run(runner, "search", '"no preconditions', "--index", sample_index)
    assert bad.exit_code == 2 and "unbalanced double quote" in bad.stderr
    missing = run(runner, "search", "x", "--index", tmp_path / "nothing-here")
    assert missing.exit_code == 2 and "no index at" in missing.stderr
    (tmp_path / "notindex").mkdir()
    (tmp_path / "notindex" / "stuff.txt").write_text("hello")
    assert "not a byline index" in run(runner, "search", "x", "--index", tmp_path / "notindex").stderr
    usage = run(runner, "search", "x", "--index", sample_index, "--format", "xml")
    assert usage.exit_code == 2 and "unknown --format" in usage.stderr


def test_other_model_is_refused_with_a_clear_error(runner, sample_index, tmp_path):
    other = tmp_path / "other-model"
    other.mkdir()
    for item in resolve_model().path.iterdir():
        (other / item.name).symlink_to(item)
    result = run(runner, "search", QUESTION, "--index", sample_index, "--model", other)
    assert result.exit_code == 2
    assert "built with model 'sentence-transformers/all-MiniLM-L6-v2'" in result.stderr
    lexical = run(runner, "search", "turtles", "--index", sample_index, "--model", other, "-m", "lexical", "-o", "ids")
    assert lexical.exit_code == 0  # lexical search needs no model
    add = run(runner, "index", "add", ROOT / "samples", "--index", sample_index, "--model", other)
    assert add.exit_code == 2 and "built with model" in add.stderr


def test_status_json(runner, sample_index):
    info = json.loads(run(runner, "status", "--index", sample_index, "--json").stdout)
    assert info["articles"] >= 18 and info["chunks"] >= info["articles"]
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2" and info["dimension"] == 384
    assert info["chunking"] == {"max_tokens": 200, "overlap_sentences": 1}
    assert info["format_version"] == 1 and info["vector_index"] == "flat"


@pytest.mark.parametrize("command", [["search"], ["index", "add"], ["status"]])
def test_help_teaches_with_examples(runner, command):
    result = run(runner, *command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout


def test_real_process_pipes_json_and_sets_exit_status(sample_index):
    env = {**os.environ, "BYLINE_INDEX": str(sample_index)}
    hit = subprocess.run([BYLINE, "search", QUESTION, "-k", "1"], capture_output=True, text=True, env=env)
    assert hit.returncode == 0, hit.stderr
    assert json.loads(hit.stdout)["results"][0]["id"] in NK  # piped: JSON by default
    miss = subprocess.run([BYLINE, "search", "zzzyqx", "--mode", "lexical"], capture_output=True, text=True, env=env)
    assert miss.returncode == 1 and json.loads(miss.stdout)["results"] == []



def test_relative_index_path_is_searchable(runner, sample_index, monkeypatch):
    """An index named relative to the current folder ("--index ix", BYLINE_INDEX=ix) opens: the
    read-only store is opened by URI, which needs an absolute path."""
    monkeypatch.chdir(sample_index.parent)
    found = run(runner, "search", "turtles", "--index", sample_index.name, "-m", "lexical", "-o", "ids", "--no-server")
    assert found.exit_code == 0, found.output
    assert found.stdout.split()[0] == "2022-05-19-sea-turtle-nesting-record.txt"


def test_commands_run_in_process_close_the_index_they_open(runner, sample_index, tmp_path):
    """Each command closes the index it opened (tests and programs run many in one process)."""
    index = tmp_path / "ix"
    shutil.copytree(sample_index, index)
    assert run(runner, "saved", "add", "talks", QUESTION, "--index", index).exit_code == 0
    commands = [["search", QUESTION, "-o", "ids"], ["search", "rail", "-m", "lexical", "-o", "json"],
                ["show", "2022-01-14-north-korea-talks.txt", "-o", "json"], ["status", "--json"],
                ["similar", "2022-01-14-north-korea-talks.txt", "-o", "ids"], ["saved", "run", "talks"]]

    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    for command in commands:  # first runs load the model and warm caches
        run(runner, *command, "--index", index)
    before = descriptors()
    for _ in range(5):
        for command in commands:
            assert run(runner, *command, "--index", index).exit_code in (0, 1)
    assert descriptors() - before < 5
