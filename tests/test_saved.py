"""`byline saved`: definitions, running, --new state, export/import, broken files and concurrency.

Real model and real indexes throughout; every test works on a private copy of the sample index,
because saved searches are written into the index folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


from conftest import NK, run

BYLINE = str(Path(sys.executable).with_name("byline"))
SANCTIONS = ["2021-06-17-security-council-sanctions-vote.txt", "2022-03-02-eu-sanctions-russian-bank.txt"]
NEW_ARTICLE = """Regional bloc widens sanctions on shipping firms
Date: 2024-06-02
Source: Harbor Times

Ministers agreed new sanctions on shipping firms accused of moving oil for a blockaded state.
The sanctions freeze assets held in member countries and ban port calls by the firms' tankers.
"""


def saved(runner, ix, *args):
    return run(runner, "saved", *args, "--index", ix)


def definitions(ix: Path) -> dict:
    return json.loads((ix / "saved" / "searches.json").read_text())["searches"]


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_add_list_show_edit_rm(runner, index_copy):
    assert saved(runner, index_copy, "add", "rates", "central bank rate", "-m", "lexical", "-k", "5",
                 "--source", "harbor times", "--since", "2022-01-01").exit_code == 0
    assert saved(runner, index_copy, "add", "nk", "who proposed talks without preconditions").exit_code == 0
    stored = definitions(index_copy)
    assert stored["rates"] == {"query": "central bank rate", "mode": "lexical", "k": 5, "source": ["harbor times"],
                               "since": "2022-01-01", "until": None, "fusion": "rrf", "format": None}
    assert stored["nk"]["mode"] == "hybrid" and stored["nk"]["k"] == 10
    text = (index_copy / "saved" / "searches.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"  # pretty, sorted, editable

    table = saved(runner, index_copy, "list")
    assert table.exit_code == 0 and "rates" in table.stdout and "central bank rate" in table.stdout
    listed = json.loads(saved(runner, index_copy, "list", "--format", "json").stdout)
    assert [row["name"] for row in listed] == ["nk", "rates"] and listed[1]["seen"] == 0

    show = saved(runner, index_copy, "show", "rates")
    assert show.exit_code == 0 and "byline search 'central bank rate' --mode lexical -k 5" in show.stdout
    assert json.loads(saved(runner, index_copy, "show", "rates", "-o", "json").stdout)["k"] == 5

    again = saved(runner, index_copy, "add", "rates", "something else")
    assert again.exit_code == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert saved(runner, index_copy, "add", "rates", "rate decision", "-m", "lexical", "--force").exit_code == 0
    assert definitions(index_copy)["rates"]["query"] == "rate decision"

    edited = saved(runner, index_copy, "edit", "rates", "--query", "interest rates", "-k", "3", "--since", "",
                   "--format", "jsonl")
    assert edited.exit_code == 0, edited.stderr
    assert definitions(index_copy)["rates"] == {
        "query": "interest rates", "mode": "lexical", "k": 3, "source": [], "since": None, "until": None,
        "fusion": "rrf", "format": "jsonl"}
    bad_edit = saved(runner, index_copy, "edit", "rates", "--query", "(oops")
    assert bad_edit.exit_code == 2 and "unbalanced parentheses" in bad_edit.stderr
    assert definitions(index_copy)["rates"]["query"] == "interest rates"
    assert saved(runner, index_copy, "edit", "nope", "-k", "2").exit_code == 2

    assert saved(runner, index_copy, "rm", "rates").exit_code == 0
    assert list(definitions(index_copy)) == ["nk"]
    missing = saved(runner, index_copy, "rm", "rates")
    assert missing.exit_code == 2 and "no saved search named 'rates'" in missing.stderr


@pytest.mark.parametrize("name", ["two words", "a/b", "../up", "dots.json", "nyhet-ø", "-dash-first", "x" * 65])
def test_bad_names_are_refused(runner, index_copy, name):
    result = run(runner, "saved", "add", "--index", index_copy, "-m", "lexical", "--", name, "sanctions")
    assert result.exit_code == 2
    assert "bad name" in result.stderr and "letters, digits, '-' and '_'" in result.stderr
    assert not (index_copy / "saved" / "searches.json").exists()
    assert run(runner, "saved", "add", "--index", index_copy, "-m", "lexical", "--",
               "North_Korea-2024", "sanctions").exit_code == 0


@pytest.mark.parametrize("options, message", [
    (['"no preconditions'], "unbalanced double quote"),
    (["x", "--mode", "fuzzy"], "unknown --mode"),
    (["x", "--fusion", "max"], "unknown --fusion"),
    (["x", "--since", "last tuesday"], "not a date"),
    (["x", "--format", "xml"], "unknown --format"),
])
def test_broken_definitions_are_refused_when_added(runner, index_copy, options, message):
    result = saved(runner, index_copy, "add", "broken", *options)
    assert result.exit_code == 2 and message in result.stderr
    assert not (index_copy / "saved" / "searches.json").exists()


def test_run_one_and_all_in_every_format(runner, index_copy):
    assert saved(runner, index_copy, "add", "nk", "who proposed talks without preconditions", "-k", "3").exit_code == 0
    assert saved(runner, index_copy, "add", "sanctions", "sanctions", "-m", "lexical", "-k", "20").exit_code == 0

    one = saved(runner, index_copy, "run", "nk", "--format", "json")
    assert one.exit_code == 0, one.stderr
    data = json.loads(one.stdout)  # one search: one object, like `byline search`
    assert data["name"] == data["query_id"] == "nk" and data["results"][0]["id"] in NK

    both = saved(runner, index_copy, "run", "--all", "--format", "jsonl")
    assert both.exit_code == 0
    records = jsonl(both.stdout)
    assert {r["name"] for r in records} == {"nk", "sanctions"}
    assert all(r["query_id"] == r["name"] for r in records)
    assert set(SANCTIONS) <= {r["id"] for r in records if r["name"] == "sanctions"}

    batch = json.loads(saved(runner, index_copy, "run", "sanctions", "nk", "-o", "json").stdout)
    assert [a["name"] for a in batch] == ["sanctions", "nk"]
    trec = saved(runner, index_copy, "run", "sanctions", "-o", "trec").stdout.splitlines()
    assert trec[0].split()[:2] == ["sanctions", "Q0"] and trec[0].split()[5] == "byline-lexical"
    ids = saved(runner, index_copy, "run", "sanctions", "-o", "ids").stdout.split()
    assert set(SANCTIONS) <= set(ids)
    table = saved(runner, index_copy, "run", "--all", "-o", "table").stdout
    assert "nk: who proposed talks" in table and "best passage" in table

    assert saved(runner, index_copy, "add", "nothing", "zzzyqx", "-m", "lexical", "-o", "ids").exit_code == 0
    none = saved(runner, index_copy, "run", "nothing")  # its saved format applies
    assert none.exit_code == 1 and none.stdout == ""
    usage = saved(runner, index_copy, "run", "nk", "--all")
    assert usage.exit_code == 2 and "not both" in usage.stderr
    unknown = saved(runner, index_copy, "run", "nope")
    assert unknown.exit_code == 2 and "no saved search named 'nope'" in unknown.stderr


def test_new_reports_a_newly_indexed_article_once(runner, index_copy, tmp_path):
    assert saved(runner, index_copy, "add", "sanctions", "sanctions", "-m", "lexical", "-k", "20").exit_code == 0
    first = saved(runner, index_copy, "run", "sanctions", "--new", "-o", "ids")
    assert first.exit_code == 0 and set(SANCTIONS) <= set(first.stdout.split())
    state = json.loads((index_copy / "saved" / "state" / "sanctions.json").read_text())
    assert state["seen"] == sorted(first.stdout.split())
    second = saved(runner, index_copy, "run", "sanctions", "--new", "-o", "ids")
    assert second.exit_code == 1 and second.stdout == ""

    article = tmp_path / "shipping-sanctions.txt"
    article.write_text(NEW_ARTICLE)
    added = run(runner, "index", "add", article, "--index", index_copy, "--quiet")
    assert added.exit_code == 0, added.stderr
    third = saved(runner, index_copy, "run", "sanctions", "--new", "-o", "jsonl")
    assert third.exit_code == 0
    [record] = jsonl(third.stdout)
    assert record["name"] == "sanctions" and record["title"] == "Regional bloc widens sanctions on shipping firms"
    assert saved(runner, index_copy, "run", "sanctions", "--new", "-o", "jsonl").exit_code == 1
    # Without --new every result is shown again, and the state is left alone.
    assert saved(runner, index_copy, "run", "sanctions", "-o", "ids").stdout.count("\n") == len(state["seen"]) + 1


def test_mark_seen_and_reset(runner, index_copy):
    assert saved(runner, index_copy, "add", "sanctions", "sanctions", "-m", "lexical").exit_code == 0
    marked = saved(runner, index_copy, "run", "sanctions", "--mark-seen")
    assert marked.exit_code == 0 and marked.stdout == "" and "marked as seen" in marked.stderr
    assert saved(runner, index_copy, "run", "sanctions", "--new", "-o", "ids").exit_code == 1
    assert json.loads(saved(runner, index_copy, "show", "sanctions", "-o", "json").stdout)["seen"] >= 2

    reset = saved(runner, index_copy, "run", "sanctions", "--reset")
    assert reset.exit_code == 0 and reset.stdout == ""
    assert not (index_copy / "saved" / "state" / "sanctions.json").exists()
    fresh = saved(runner, index_copy, "run", "sanctions", "--new", "-o", "ids")
    assert fresh.exit_code == 0 and set(SANCTIONS) <= set(fresh.stdout.split())
    again = saved(runner, index_copy, "run", "sanctions", "--reset", "--new", "-o", "ids")
    assert again.stdout == fresh.stdout  # reset first, then everything is new again

    both = saved(runner, index_copy, "run", "sanctions", "--new", "--mark-seen")
    assert both.exit_code == 2 and "choose one" in both.stderr


def test_export_import_round_trip(runner, index_copy, sample_index, tmp_path):
    assert saved(runner, index_copy, "add", "rates", "central bank rate", "-m", "lexical", "-s", "Harbor Times").exit_code == 0
    assert saved(runner, index_copy, "add", "nk", "talks without preconditions", "-k", "4").exit_code == 0
    exported = saved(runner, index_copy, "export")
    assert exported.exit_code == 0
    assert json.loads(exported.stdout)["searches"] == definitions(index_copy)
    out = tmp_path / "mine.json"
    assert saved(runner, index_copy, "export", "--output", out).exit_code == 0
    assert out.read_text() == exported.stdout

    other = tmp_path / "other-ix"
    shutil.copytree(sample_index, other)
    assert saved(runner, other, "add", "rates", "something else", "-m", "lexical").exit_code == 0
    refused = saved(runner, other, "import", out)
    assert refused.exit_code == 2 and "rates" in refused.stderr and "--force" in refused.stderr
    assert list(definitions(other)) == ["rates"]  # all or nothing
    assert saved(runner, other, "import", out, "--force").exit_code == 0
    assert definitions(other) == definitions(index_copy)

    third = tmp_path / "third-ix"
    shutil.copytree(sample_index, third)
    assert saved(runner, third, "import", out).exit_code == 0
    assert saved(runner, third, "run", "rates", "-o", "ids").stdout.split()[0] in {
        "2023-03-16-central-bank-holds-rates.txt", "2023-05-04-central-bank-resumes-hikes.txt"}

    broken = tmp_path / "broken.json"
    broken.write_text('{"searches": {"x": {"query": "\\"unbalanced"}}}')
    bad = saved(runner, third, "import", broken, "--force")
    assert bad.exit_code == 2 and str(broken) in bad.stderr and "unbalanced double quote" in bad.stderr


def test_hand_edited_broken_files_give_clear_errors(runner, index_copy):
    folder = index_copy / "saved"
    folder.mkdir()
    path = folder / "searches.json"
    path.write_text('{"searches": {"a": {"query": "x",}}}')
    for args in (["list"], ["run", "--all"], ["add", "b", "y"]):
        result = saved(runner, index_copy, *args)
        assert result.exit_code == 2 and str(path) in result.stderr and "not valid JSON" in result.stderr
    path.write_text('{"searches": {"a": {"query": "x", "k": "ten"}}}')
    result = saved(runner, index_copy, "show", "a")
    assert result.exit_code == 2 and str(path) in result.stderr and '"k" must be a whole number' in result.stderr


def test_run_all_reports_broken_searches_and_goes_on(runner, index_copy):
    assert saved(runner, index_copy, "add", "good", "sanctions", "-m", "lexical").exit_code == 0
    assert saved(runner, index_copy, "add", "quoted", "talks", "-m", "lexical").exit_code == 0
    assert saved(runner, index_copy, "add", "ghost", "talks", "-m", "lexical", "-s", "Harbor Times").exit_code == 0
    path = index_copy / "saved" / "searches.json"
    data = json.loads(path.read_text())
    data["searches"]["quoted"]["query"] = '"unbalanced'  # as if edited by hand
    data["searches"]["ghost"]["source"] = ["Nonexistent Gazette"]
    path.write_text(json.dumps(data))

    result = saved(runner, index_copy, "run", "--all", "-o", "jsonl")
    assert result.exit_code == 2
    assert "byline: error: saved search quoted: bad query: unbalanced double quote" in result.stderr
    assert "byline: error: saved search ghost: source 'Nonexistent Gazette' is not in the index" in result.stderr
    records = jsonl(result.stdout)
    assert records and {r["name"] for r in records} == {"good"}
    assert "Traceback" not in result.stderr
    assert saved(runner, index_copy, "run", "good", "-o", "ids").exit_code == 0
    alone = saved(runner, index_copy, "run", "quoted", "-o", "ids")
    assert alone.exit_code == 2 and alone.stdout == ""

    new = saved(runner, index_copy, "run", "--all", "--new", "-o", "ids")
    assert new.exit_code == 2  # the good one's new articles were printed and recorded all the same
    assert set(SANCTIONS) <= set(new.stdout.split())
    assert (index_copy / "saved" / "state" / "good.json").exists()
    assert not (index_copy / "saved" / "state" / "quoted.json").exists()


@pytest.mark.parametrize("command", [[], ["add"], ["list"], ["show"], ["edit"], ["rm"], ["run"], ["export"], ["import"]])
def test_help_shows_an_example(runner, command):
    result = run(runner, "saved", *command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout


def test_state_is_not_updated_when_output_cannot_be_written(index_copy):
    env = {**os.environ, "BYLINE_INDEX": str(index_copy)}
    add = subprocess.run([BYLINE, "saved", "add", "sanctions", "sanctions", "-m", "lexical"], env=env,
                         capture_output=True, text=True)
    assert add.returncode == 0, add.stderr
    with open("/dev/full", "w") as full:  # every write fails: "no space left on device"
        failed = subprocess.run([BYLINE, "saved", "run", "sanctions", "--new", "-o", "jsonl"], env=env,
                                stdout=full, stderr=subprocess.PIPE, text=True)
    assert failed.returncode == 2 and "nothing was marked as seen" in failed.stderr
    assert not (index_copy / "saved" / "state" / "sanctions.json").exists()
    piped = subprocess.run([BYLINE, "saved", "run", "sanctions", "--new"], env=env, capture_output=True, text=True)
    assert piped.returncode == 0 and json.loads(piped.stdout)["name"] == "sanctions"  # piped: JSON


def test_concurrent_runs_and_adds_keep_files_valid(index_copy):
    env = {**os.environ, "BYLINE_INDEX": str(index_copy)}
    queries = {"sanctions": "sanctions", "talks": "talks", "rates": "rate decision", "storm": "flooding storm"}
    for name, query in queries.items():
        subprocess.run([BYLINE, "saved", "add", name, query, "-m", "lexical", "-k", "20"], env=env, check=True,
                       capture_output=True)
    commands = [[BYLINE, "saved", "run", "--all", "--new", "-o", "jsonl"] for _ in range(4)]
    commands += [[BYLINE, "saved", "add", f"added-{i}", f"query {i}", "-m", "lexical"] for i in range(4)]
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode in (0, 1), err

    stored = definitions(index_copy)
    assert set(stored) == set(queries) | {f"added-{i}" for i in range(4)}
    reported: dict[str, set[str]] = {}
    for out, _ in outputs[:4]:
        for record in jsonl(out):
            reported.setdefault(record["name"], set()).add(record["id"])
    for name in queries:
        every = subprocess.run([BYLINE, "saved", "run", name, "-o", "ids"], env=env, capture_output=True, text=True)
        seen = json.loads((index_copy / "saved" / "state" / f"{name}.json").read_text())["seen"]
        assert set(seen) == reported[name] == set(every.stdout.split())
    leftovers = [p.name for p in (index_copy / "saved").rglob(".*") if p.name != ".lock"]
    assert leftovers == []  # no temporary files left behind
