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


def _closed_early(args: list[str], env: dict | None = None) -> tuple[int, str, int]:
    """Run `byline ARGS` into a real pipe (shrunk to 4 KB), read its first bytes, close the pipe.
    Returns the exit status, stderr and how much was read."""
    import fcntl

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen([BYLINE, *args], stdout=write_end, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    os.close(write_end)
    got = os.read(read_end, 100)
    os.close(read_end)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode(), len(got)


@pytest.fixture(scope="module")
def long_article_index(tmp_path_factory, embedder):
    from index.builder import add_paths
    from index.layout import IndexPaths

    folder = tmp_path_factory.mktemp("long")
    paragraph = "The harbour authority said the new crane would double the port's capacity. " * 8
    (folder / "crane.txt").write_text("Harbour crane arrives\nDate: 2004-03-01\n\n" + "\n\n".join([paragraph] * 30))
    root = folder / "ix"
    add_paths(IndexPaths(root), [folder], embedder)
    return root


def test_a_closed_pipe_is_not_an_error_in_any_command_or_format(sample_index, long_article_index, tmp_path):
    queries = tmp_path / "q.txt"
    queries.write_text("talks\nstorm\nsanctions\n" * 40)
    ix = ["--index", str(sample_index)]
    commands = [["search", "talks", "-k", "20", "-o", fmt, *ix] for fmt in ("jsonl", "json", "table")]
    commands += [["search", "--queries", str(queries), "--mode", "lexical", "-o", fmt, *ix] for fmt in ("ids", "trec")]
    commands += [["search", "--queries", str(queries), "--mode", "lexical", "-a", *ix],
                 ["similar", NK_SAMPLE, "-k", "20", "-o", "jsonl", *ix],
                 ["timeline", "talks", "--by", "day", "-o", "json", *ix],
                 ["show", "crane.txt", "-o", "json", "--index", str(long_article_index)],
                 ["show", "crane.txt", "-o", "table", "--index", str(long_article_index)]]
    for args in commands:
        whole = subprocess.run([BYLINE, *args], capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert whole.returncode == 0 and len(whole.stdout) > 8192, (args, whole.stderr)  # more than the pipe holds
        status, err, read = _closed_early(args)
        assert status == 0 and read > 0, (args, status, err)
        assert "Traceback" not in err and "Error" not in err, (args, err)


def test_show_prints_an_article_in_full(runner, sample_index):
    from search.engine import Engine

    whole = Engine(sample_index).get_article(NK_SAMPLE)
    shown = run(runner, "show", NK_SAMPLE, "--index", sample_index, "-o", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout) == whole
    table = run(runner, "show", NK_SAMPLE, "--index", sample_index, "-o", "table")
    flat = " ".join(table.stdout.split())
    assert table.exit_code == 0 and whole["title"] in flat and "2022-01-14" in flat
    last_words = " ".join(whole["text"].split()[-6:])
    assert last_words in flat
    missing = run(runner, "show", "no-such-article", "--index", sample_index)
    assert missing.exit_code == 2 and "no article with id 'no-such-article'" in missing.stderr


def test_version_and_shell_completion():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    version = subprocess.run([BYLINE, "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("byline 0.")
    complete = subprocess.run([BYLINE], capture_output=True, text=True, env={
        **env, "_BYLINE_COMPLETE": "complete_bash", "COMP_WORDS": "byline search --so", "COMP_CWORD": "2"})
    assert complete.stdout.split() == ["--source", "--sort"]
    script = subprocess.run([BYLINE, "--show-completion", "bash"], capture_output=True, text=True, env={
        **env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})  # the shell is named, not detected
    assert script.returncode == 0 and "_BYLINE_COMPLETE" in script.stdout


HELP_COMMANDS = [[], ["search"], ["show"], ["index", "add"], ["index", "rm"], ["index", "sync"], ["status"],
                 ["doctor"], ["serve"], ["mcp"], ["similar"], ["timeline"], ["saved"], ["saved", "add"],
                 ["saved", "run"], ["saved", "list"]]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "byline")
def test_help_reads_cleanly_at_80_columns(runner, command):
    from search.frontends.cli import app

    text = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"}).stdout
    assert "Usage:" in text
    for placeholder in ("<str>", "<bool>", "<int", "<float", "<path>", "<list", "…", "[1<="):
        assert placeholder not in text, placeholder
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    for line, following in zip(lines, lines[1:]):  # an example line never wraps onto the next
        if line.startswith("   byline "):
            assert not following.strip(), (line, following)


def test_help_paragraphs_are_not_broken_mid_sentence(runner):
    from search.frontends.cli import app

    text = " ".join(runner.invoke(app, ["search", "--help"], env={"COLUMNS": "80"}).stdout.split("\n"))
    assert "(its index and model are already loaded" in " ".join(text.split())
    lines = runner.invoke(app, ["search", "--help"], env={"COLUMNS": "80"}).stdout.splitlines()
    broken = [line for line in lines if line.rstrip().endswith("index and model")]
    assert not broken


def test_progress_shows_the_model_step_and_ends_on_the_summarys_counts(embedder, tmp_path):
    from index.builder import add_paths
    from index.layout import IndexPaths

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(5):
        (docs / f"{i}.txt").write_text(f"Crane {i} repaired\n\n" + f"Engineers repaired crane {i}. " * 40)
    seen = []
    report = add_paths(IndexPaths(tmp_path / "ix"), [docs], embedder, on_progress=seen.append)
    stages = [p.stage for p in seen]
    assert "preparing the model" in stages
    first_chunks = next(i for i, p in enumerate(seen) if p.chunks)
    assert stages.index("preparing the model") < first_chunks
    last = seen[-1]
    assert last.stage == "saving" and (last.files_done, last.files_total) == (5, 5)
    assert (last.articles, last.chunks) == (report.articles, report.chunks) and report.chunks > 5


def test_index_rm_says_what_happened(runner, tmp_path):
    (tmp_path / "docs").mkdir()
    for name in ("a", "b"):
        (tmp_path / "docs" / f"{name}.txt").write_text(f"Story {name}\n\nA short story called {name}.")
    ix = tmp_path / "ix"
    run(runner, "index", "add", tmp_path / "docs", "--index", ix)
    removed = run(runner, "index", "rm", "a.txt", "--index", ix)
    assert removed.exit_code == 0
    assert removed.stderr.startswith("Removed 1 article; the index holds 1 article.")
    assert "Indexed 0" not in removed.stderr


def test_timeline_chart_compresses_runs_of_empty_weeks():
    import io

    from index.store import StoredArticle
    from search.stories import timeline as tl

    class R:  # what timeline.build reads of a result
        def __init__(self, day):
            self.article, self.duplicates = StoredArticle(day, day, day, None, None, None), []

    chart = tl.build([R("2004-01-05"), R("2004-01-12"), R("2004-05-03")], "week")
    assert len(chart.buckets) == 18  # every week is still counted (JSON)
    out = io.StringIO()
    tl.draw("rail strike", chart, out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and "… 15 empty weeks" in lines[3]


QUESTION = "who proposed talks without preconditions"


def test_query_words_stay_visible_without_colour(runner, sample_index):
    args = ["search", QUESTION, "--index", sample_index, "-o", "table", "-k", "2"]
    plain = run(runner, *args)  # not a terminal: no styles at all, so brackets
    assert plain.exit_code == 0 and "[preconditions]" in plain.stdout and "\x1b[" not in plain.stdout
    from search.frontends.cli import app

    styled = runner.invoke(app, [str(a) for a in args], env={"NO_COLOR": "1", "FORCE_COLOR": "1",
                                                              "TERM": "xterm-256color", "COLUMNS": "120"})
    assert "\x1b[1;4mpreconditions" in styled.stdout  # bold and underlined
    assert "[preconditions]" not in styled.stdout and "33m" not in styled.stdout  # and no colour


def test_narrow_terminal_prints_blocks_not_a_table(runner, sample_index):
    from search.frontends.cli import app

    args = ["search", QUESTION, "--index", str(sample_index), "-o", "table", "-k", "3"]
    narrow = runner.invoke(app, args, env={"COLUMNS": "45"}).stdout
    assert "┃" not in narrow and "│" not in narrow
    lines = narrow.splitlines()
    assert max(map(len, lines)) <= 45
    assert lines[0].startswith("1. US ready to sit down")
    assert any(line.startswith("2022-01-14 · Byline Sample Wire") for line in lines)  # the date is whole
    assert any(line.startswith("3. ") for line in lines)
    wide = runner.invoke(app, args, env={"COLUMNS": "120"}).stdout
    assert "┃" in wide


def test_readme_first_screen_goes_from_nothing_to_a_search():
    text = (ROOT / "README.md").read_text()
    first_screen = "\n".join(text.splitlines()[:40])
    for line in ("bash scripts/demo.sh", "bash scripts/test.sh", "source .venv/bin/activate",
                 "byline index add ~/news", "byline search \""):
        assert line in first_screen, line
    assert text.index("Every article is cut into passages") > len(first_screen)  # design notes further down


def test_demo_ends_with_a_command_that_searches_its_index(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BYLINE_DEMO_NO_SETUP": "1", "BYLINE": BYLINE,
           "BYLINE_INDEX": str(tmp_path / "demo-index")}
    demo = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, env=env,
                          timeout=600)
    assert demo.returncode == 0, demo.stderr
    command = next(line.strip() for line in demo.stdout.splitlines() if line.strip().startswith("byline search"))
    assert command.endswith(f"--index {tmp_path / 'demo-index'}")
    args = __import__("shlex").split(command)[1:]
    found = subprocess.run([BYLINE, *args, "-o", "ids"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert found.returncode == 0 and "2021-10-30-storm-coastal-flooding.txt" in found.stdout.split()


# A minimal DOM, enough for page.html's script, so its article view is exercised without a browser
# (tests/test_serve.py drives the whole page in Chromium when one is installed).
PAGE_HARNESS = r"""
class Node {
  constructor(tag) { this.tagName = tag; this.children = []; this.listeners = {}; this.dataset = {};
                     this.hidden = false; this.textContent = ""; this.value = ""; this.className = ""; }
  append(...nodes) { this.children.push(...nodes); }
  replaceChildren(...nodes) { this.children = nodes; }
  addEventListener(type, fn) { this.listeners[type] = fn; }
  get text() { return this.textContent + this.children.map((c) => c.text).join(""); }
  all(tag) { return this.children.flatMap((c) => [...(c.tagName === tag ? [c] : []), ...c.all(tag)]); }
}
const nodes = {};
globalThis.document = {
  createElement: (tag) => new Node(tag),
  createTextNode: (text) => Object.assign(new Node("#text"), { textContent: text }),
  getElementById: (id) => (nodes[id] ||= new Node("div")),
};
globalThis.location = { hash: "#token=s3cret", search: "" };
globalThis.history = { pushState: (s, t, url) => { location.search = url.split("#")[0]; }, replaceState() {}, back() {} };
globalThis.window = { addEventListener() {} };
const fetched = [];
globalThis.fetch = async (url, options) => {
  fetched.push([url, options.headers.Authorization]);
  return { ok: true, json: async () => ({ id: "a b.txt", title: "Crane", date: "2004-03-01", source: "Wire",
                                          text: "First paragraph.\n\nSecond paragraph." }) };
};
const script = require("fs").readFileSync(process.argv[2], "utf8").match(/<script>([\s\S]*)<\/script>/)[1];
eval(script + "\nglobalThis.render = render;");  // strict code keeps its functions to itself
render({ query: "crane", results: [
  { rank: 1, id: "a b.txt", title: "Crane", url: null, date: "2004-03-01", source: "Wire", passage: "p",
    highlights: [], duplicates: [], answer: null },
  { rank: 2, id: "c", title: "Web", url: "https://example.org/c", date: null, source: null, passage: "p",
    highlights: [], duplicates: [], answer: null }] });
const links = nodes.results.all("a");
(async () => {
  links[0].listeners.click({ preventDefault() {} });
  await new Promise((done) => setTimeout(done, 10));
  console.log(JSON.stringify({ hrefs: links.map((a) => a.href), fetched, search: location.search,
    articleHidden: nodes.article.hidden, resultsHidden: nodes.results.hidden,
    paragraphs: nodes.article.all("p").map((p) => p.textContent) }));
})();
"""


def test_page_title_without_url_opens_the_article_on_the_page(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = tmp_path / "harness.js"
    harness.write_text(PAGE_HARNESS)
    page = ROOT / "search" / "frontends" / "page.html"
    done = subprocess.run([node, str(harness), str(page)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["hrefs"] == ["?article=a%20b.txt#token=s3cret", "https://example.org/c"]
    assert seen["fetched"][-1] == ["/articles/a%20b.txt", "Bearer s3cret"]  # with the page's token
    assert seen["search"] == "?article=a%20b.txt"
    assert (seen["articleHidden"], seen["resultsHidden"]) == (False, True)
    assert seen["paragraphs"] == ["First paragraph.", "Second paragraph."]
