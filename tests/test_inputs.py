"""Hostile inputs cannot hang or exhaust a run: only regular files are read, reads are bounded,
and file names that are not UTF-8 are indexed like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from index import readers
from index.documents import Article, Cut, Skipped
from index.readers import limits
from search.frontends.cli import app

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "Harbour reopens\n\nThe harbour reopened after months of dredging work."

# Read in a child process with a time and memory limit, so a regression fails instead of
# hanging the test run (a FIFO) or eating the machine's memory (/dev/zero).
CHILD = """
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from index.readers import read_paths
from index.documents import Article
out = []
for item in read_paths([Path(p) for p in sys.argv[1:]]):
    out.append(["article", item.id] if isinstance(item, Article) else ["skipped", item.path, item.reason])
print(json.dumps(out))
"""


def read_in_child(*paths) -> list[list[str]]:
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, paths)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_fifo_and_devices_in_a_folder_are_skipped_not_read(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(ARTICLE)
    os.mkfifo(docs / "pipe.txt")
    (docs / "zero.txt").symlink_to("/dev/zero")
    (docs / "random.html").symlink_to("/dev/urandom")
    items = read_in_child(docs)
    assert ["article", "a.txt"] in items
    reasons = {Path(i[1]).name: i[2] for i in items if i[0] == "skipped"}
    assert reasons == {"pipe.txt": "not a regular file (a FIFO); only files are read",
                       "zero.txt": "not a regular file (a character device); only files are read",
                       "random.html": "not a regular file (a character device); only files are read"}


def test_fifo_and_dev_null_given_by_name_are_reported(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    items = read_in_child(tmp_path / "pipe.txt", "/dev/null")
    assert [i[0] for i in items] == ["skipped", "skipped"]
    assert all("not a regular file" in i[2] for i in items), items
    result = CliRunner().invoke(app, ["index", "add", str(tmp_path / "pipe.txt"), "--index", str(tmp_path / "ix"),
                                      "--json", "-q"])
    assert json.loads(result.stdout)["skipped"] == [
        {"path": str(tmp_path / "pipe.txt"), "reason": "not a regular file (a FIFO); only files are read"}]


def test_reads_stop_at_the_limit_when_st_size_says_nothing(tmp_path, monkeypatch):
    """/proc files are regular files of size 0 with content: the read itself is bounded."""
    link = tmp_path / "status.txt"
    link.symlink_to("/proc/self/status")
    monkeypatch.setattr(limits, "MAX_ARTICLE_BYTES", 200)
    [item] = readers.read_file(link, tmp_path, readers.FieldMap())
    assert isinstance(item, Skipped) and "too large for one article (over 0 MB" in item.reason


def test_long_jsonl_record_is_skipped_and_the_next_ones_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARTICLE_BYTES", 300)
    feed = tmp_path / "feed.jsonl"
    records = [{"id": "a", "text": "short one"}, {"id": "b", "text": "x" * 5000}, {"id": "c", "text": "after"}]
    feed.write_text("".join(json.dumps(r) + "\n" for r in records))
    items = list(readers.read_file(feed, tmp_path, readers.FieldMap()))
    assert [i.id for i in items if isinstance(i, Article)] == ["a", "c"]
    [skip] = [i for i in items if isinstance(i, Skipped)]
    assert skip.path.endswith("feed.jsonl:2") and "too large for one record" in skip.reason


def test_file_names_that_are_not_utf8_are_indexed_and_the_run_goes_on(index_copy, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    with open(os.path.join(os.fsencode(docs), b"caf\xe9 talks.txt"), "w") as fh:
        fh.write("Cafe owners hold talks\n\nCafe owners met the mayor for talks about terraces.")
    with open(os.path.join(os.fsencode(docs), b"bin\xff.txt"), "wb") as fh:
        fh.write(b"\x00\x01binary")
    (docs / "b.txt").write_text(ARTICLE)
    items = list(readers.read_paths([docs]))
    articles = {i.id for i in items if isinstance(i, Article)}
    assert articles == {"caf\\xe9 talks.txt", "b.txt"}
    assert [i.path.rsplit("/", 1)[-1] for i in items if isinstance(i, Skipped)] == ["bin\\xff.txt"]
    runner = CliRunner()
    added = runner.invoke(app, ["index", "add", str(docs), "--index", str(index_copy), "--json"])
    assert added.exit_code == 0, added.output
    summary = json.loads(added.stdout)
    assert summary["new"] == 2 and [s["reason"] for s in summary["skipped"]] == ["binary file, not text"]
    found = runner.invoke(app, ["search", "terraces", "--mode", "lexical", "--index", str(index_copy), "-o", "ids"])
    assert found.stdout.splitlines() == ["caf\\xe9 talks.txt"]


def test_html_with_too_many_elements_is_skipped_before_parsing(tmp_path):
    page = tmp_path / "flood.html"
    page.write_text("<html><body>" + "<p>x</p>" * (readers.MAX_HTML_ELEMENTS + 10) + "</body></html>")
    [item] = readers.read_file(page, tmp_path, readers.FieldMap())
    assert isinstance(item, Skipped) and f"the limit is {readers.MAX_HTML_ELEMENTS:,}" in item.reason


def test_long_article_is_cut_at_a_paragraph_and_reported(tmp_path):
    paragraph = "The council debated the harbour budget again. " * 40
    long = tmp_path / "long.txt"
    long.write_text("Budget marathon\n\n" + "\n\n".join([paragraph] * 200))  # ~370,000 characters
    cut, article = readers.read_file(long, tmp_path, readers.FieldMap())
    assert isinstance(cut, Cut) and "cut to its first" in cut.reason and cut.path == str(long)
    assert readers.MAX_ARTICLE_CHARS // 2 < len(article.text) <= readers.MAX_ARTICLE_CHARS
    assert article.text.endswith("again.") and paragraph.strip() in article.text


def test_cut_articles_are_indexed_and_listed(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARTICLE_CHARS", 600)
    (tmp_path / "long.txt").write_text("Budget marathon\n\n" + "\n\n".join(["The council debated the budget."] * 60))
    result = CliRunner().invoke(app, ["index", "add", str(tmp_path / "long.txt"), "--index", str(tmp_path / "ix"),
                                      "--json"])
    summary = json.loads(result.stdout)
    assert summary["new"] == 1 and summary["skipped"] == [] and len(summary["cut"]) == 1
    assert "cut" in result.stderr and "long.txt" in result.stderr
