"""Stories, not copies: near-duplicate clusters, collapse, similar, --sort date, --recent, timeline.

On the real sample index: samples/ holds two syndicated copies (a rail strike and a rate decision
republished by other outlets with new headlines, a changed lead, a dropped paragraph, boilerplate)
and three follow-ups (the rail deal, the next rate rise, the storm clean-up) that are not copies.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from index.builder import open_writer
from index.layout import IndexPaths
from index.readers import read_paths
from search.stories.clusters import Clusters
from search.retrieval.filters import Filters
from search.retrieval.opened import OpenIndex
from search.ranking.ranker import Ranker, SearchOptions
from search.stories.view import View, search_many
from search.stories import timeline
from search import pipeline
from search.ranking.floor import FloorParams

from conftest import SAMPLES, run

RAIL, RAIL_COPY, RAIL_DEAL = ("2023-01-26-railway-strike.txt", "2023-01-26-rail-walkout-wire-copy.txt",
                              "2023-02-09-rail-union-accepts-deal.txt")
RATES, RATES_COPY, RATES_RISE = ("2023-03-16-central-bank-holds-rates.txt", "2023-03-16-rates-on-hold-syndicated.txt",
                                 "2023-05-04-central-bank-resumes-hikes.txt")
STORM, STORM_CLEANUP = "2021-10-30-storm-coastal-flooding.txt", "2021-11-04-storm-idris-clean-up.txt"


@pytest.fixture(scope="module")
def index(sample_index):
    ix = OpenIndex(sample_index)
    yield ix
    ix.close()


def stories(index, query, view=View(), **options):
    return search_many(Ranker(index, SearchOptions(**options)), [query], view)[0]


def test_copies_cluster_and_follow_ups_do_not(index):
    clusters = Clusters(index.store)
    assert clusters.available
    members = clusters.members([RAIL, RATES, RAIL_DEAL, RATES_RISE, STORM, STORM_CLEANUP])
    assert members[RAIL] == {RAIL, RAIL_COPY} and members[RATES] == {RATES, RATES_COPY}
    for alone in (RAIL_DEAL, RATES_RISE, STORM, STORM_CLEANUP):
        assert members[alone] == {alone}
    every = [a.id for a in read_paths([SAMPLES]) if hasattr(a, "id")]
    groups = {m for m in clusters.members(every).values() if len(m) > 1}
    assert groups == {frozenset({RAIL, RAIL_COPY}), frozenset({RATES, RATES_COPY})}  # no false cluster


def test_collapse_shows_each_story_once_and_k_counts_stories(index):
    collapsed = stories(index, "rail strike pay", k=3)
    ids = [r.article.id for r in collapsed]
    assert len(ids) == 3 and len({RAIL, RAIL_COPY} & set(ids)) == 1
    shown = next(r for r in collapsed if r.article.id in (RAIL, RAIL_COPY))
    assert [d.id for d in shown.duplicates] == list({RAIL, RAIL_COPY} - {shown.article.id})
    plain = stories(index, "rail strike pay", View(collapse=False), k=3)
    assert {RAIL, RAIL_COPY} <= {r.article.id for r in plain}
    assert all(not r.duplicates for r in plain)
    # The shown member is the best-ranked one of its cluster.
    order = [r.article.id for r in stories(index, "rail strike pay", View(collapse=False), k=10)]
    assert shown.article.id == min((RAIL, RAIL_COPY), key=order.index)
    assert [r.rank for r in collapsed] == [1, 2, 3]


def test_copies_outside_the_filters_are_not_listed(index):
    [rates] = [r for r in stories(index, "central bank holds rates", k=5, mode="lexical") if r.article.id in (RATES, RATES_COPY)]
    assert rates.duplicates
    only_harbor = Ranker(index, SearchOptions(k=5, mode="lexical", filters=Filters.build(["Harbor Times"])))
    [res] = search_many(only_harbor, ["central bank holds rates"], View())
    top = next(r for r in res if r.article.id == RATES)
    assert top.duplicates == []  # its copy is from the Riverside Gazette


def test_json_and_table_show_the_copies(runner, sample_index):
    out = run(runner, "search", "rail strike pay", "--index", sample_index, "-o", "json", "-k", "5")
    results = json.loads(out.stdout)["results"]
    rail = next(r for r in results if r["id"] in (RAIL, RAIL_COPY))
    [copy] = rail["duplicates"]
    assert set(copy) == {"id", "title", "date", "source"} and copy["id"] in (RAIL, RAIL_COPY)
    assert not any(r["id"] == copy["id"] for r in results)
    table = run(runner, "search", "walkout signallers conductors", "--index", sample_index, "-o", "table", "-k", "3")
    assert "+1 copy (" in table.stdout
    off = json.loads(run(runner, "search", "rail strike pay", "--index", sample_index, "-o", "json", "-k", "5",
                         "--no-collapse").stdout)["results"]
    assert {RAIL, RAIL_COPY} <= {r["id"] for r in off}


def test_similar_finds_the_follow_up_without_its_own_copies(runner, sample_index):
    out = run(runner, "similar", RAIL, "--index", sample_index, "-o", "json", "-k", "3")
    assert out.exit_code == 0, out.stderr
    ids = [r["id"] for r in json.loads(out.stdout)["results"]]
    assert ids[0] == RAIL_DEAL and RAIL not in ids and RAIL_COPY not in ids and len(ids) == 3
    storm = json.loads(run(runner, "similar", STORM, "--index", sample_index, "-o", "json", "-k", "1").stdout)
    assert storm["results"][0]["id"] == STORM_CLEANUP
    filtered = run(runner, "similar", RAIL, "--index", sample_index, "-o", "ids", "--source", "Harbor Times")
    assert filtered.exit_code == 0 and RAIL_DEAL not in filtered.stdout
    unknown = run(runner, "similar", "no-such-article", "--index", sample_index)
    assert unknown.exit_code == 2 and "no article with id" in unknown.stderr


def test_sort_date_lists_the_relevant_set_newest_first(index):
    by_date = stories(index, "central bank interest rate decision", View(sort="date"), k=10)
    ids = [r.article.id for r in by_date]
    assert ids[:2] == [RATES_RISE, RATES] or ids[:2] == [RATES_RISE, RATES_COPY]
    dates = [r.article.date for r in by_date]
    assert dates == sorted(dates, reverse=True)
    # The relevant set is cut by score, not padded to k with unrelated articles.
    assert len(by_date) < 10 and STORM not in ids


def test_recent_boosts_newer_articles(index):
    plain = [r.article.id for r in stories(index, "storm floods coastal towns", k=5)]
    assert plain[0] == STORM and STORM_CLEANUP in plain
    recent = stories(index, "storm floods coastal towns", View(recent=True, half_life=2), k=10)
    ids = [r.article.id for r in recent]
    assert ids.index(STORM_CLEANUP) < ids.index(STORM)  # five days newer: boosted past it
    # With a half-life of two days, age dominates: the relevant set comes out newest first.
    assert [r.article.date for r in recent] == sorted((r.article.date for r in recent), reverse=True)
    assert len(recent) < 10  # only the relevant set is reordered, not every candidate
    # A very long half-life leaves relevance order alone.
    slow = stories(index, "storm floods coastal towns", View(recent=True, half_life=1e6), k=5)
    assert [r.article.id for r in slow] == plain[:len(slow)]


def test_timeline_counts_stories_per_period(runner, sample_index, index):
    # As `byline timeline` ranks: under the relevance floor (without it, the 2021 storm article
    # can join the tail when the reference article is indexed too).
    [results] = pipeline.run(Ranker(index, SearchOptions(k=10000)), ["rail strike"], View(sort="date"),
                             answers=False, floor=FloorParams())
    chart = timeline.build(results)
    assert chart.unit == "day"  # 2023-01-26 to 2023-02-09: every day listed
    counts = {b.start: len(b.ids) for b in chart.buckets}
    assert len(counts) == 15 and {d: n for d, n in counts.items() if n} == {"2023-01-26": 1, "2023-02-09": 1}
    out = run(runner, "timeline", "rail strike", "--index", sample_index, "-o", "json", "--by", "week")
    data = json.loads(out.stdout)  # the copy is not counted: one story
    assert data["unit"] == "week" and data["total"] == 2 and [b["count"] for b in data["buckets"]] == [1, 0, 1]
    assert data["buckets"][0]["start"] == "2023-01-23"  # weeks start on Monday
    copies = json.loads(run(runner, "timeline", "rail strike", "--index", sample_index, "-o", "json",
                            "--no-collapse", "--by", "week").stdout)
    assert copies["total"] == 3
    drawn = run(runner, "timeline", "rail strike", "--index", sample_index, "--by", "month")
    assert drawn.exit_code == 0 and "2023-01" in drawn.stdout and "█" in drawn.stdout
    assert run(runner, "timeline", "rail strike", "--index", sample_index, "--by", "hour").exit_code == 2
    # The options are checked as `byline search` checks them (one engine behind both).
    unknown = run(runner, "timeline", "rail strike", "--index", sample_index, "--source", "nowhere")
    assert unknown.exit_code == 2 and "nowhere" in unknown.stderr
    typo = run(runner, "timeline", "preconditons", "--index", sample_index, "-m", "lexical", "-o", "json")
    assert "showing results for: preconditions" in typo.stderr and json.loads(typo.stdout)["total"] >= 1


def test_clusters_follow_rm_and_add(runner, index_copy):
    removed = run(runner, "index", "rm", RAIL, "--index", index_copy, "--json")
    assert removed.exit_code == 0
    with _open(index_copy) as ix:
        members = Clusters(ix.store).members([RAIL_COPY])
        assert members[RAIL_COPY] == {RAIL_COPY}  # the copy now stands alone
    assert run(runner, "index", "add", SAMPLES / RAIL, "--index", index_copy, "-q").exit_code == 0
    with _open(index_copy) as ix:
        assert Clusters(ix.store).members([RAIL_COPY])[RAIL_COPY] == {RAIL, RAIL_COPY}


def test_an_aborted_run_leaves_no_signatures(index_copy, embedder, tmp_path):
    copy = tmp_path / "copy.txt"
    copy.write_text((SAMPLES / RATES).read_text().replace("Harbor Times", "Test Wire"))
    with pytest.raises(RuntimeError):
        with open_writer(IndexPaths(index_copy), embedder) as writer:
            [article] = [a for a in read_paths([copy]) if hasattr(a, "id")]
            writer.add(article)
            writer.flush()
            raise RuntimeError("killed")
    with _open(index_copy) as ix:
        assert Clusters(ix.store).members([RATES])[RATES] == {RATES, RATES_COPY}


def test_old_index_without_signatures_works_and_doctor_repairs_it(runner, index_copy):
    db = sqlite3.connect(IndexPaths(index_copy).store)
    db.executescript("DROP TABLE signatures; DROP TABLE lsh_buckets; DELETE FROM meta WHERE key='dedup_scheme';")
    db.close()
    out = json.loads(run(runner, "search", "rail strike pay", "--index", index_copy, "-o", "json", "-k", "5").stdout)
    assert {RAIL, RAIL_COPY} <= {r["id"] for r in out["results"]}  # no collapse, no error
    doctor = run(runner, "doctor", "--index", index_copy)
    assert doctor.exit_code == 2 and "no near-duplicate signature" in doctor.stdout
    assert run(runner, "doctor", "--repair", "--index", index_copy).exit_code == 0
    out = json.loads(run(runner, "search", "rail strike pay", "--index", index_copy, "-o", "json", "-k", "5").stdout)
    assert len({RAIL, RAIL_COPY} & {r["id"] for r in out["results"]}) == 1


def test_saved_new_does_not_report_a_copy_of_a_reported_story(runner, index_copy):
    assert run(runner, "index", "rm", RAIL_COPY, "--index", index_copy).exit_code == 0
    assert run(runner, "saved", "add", "rail", "rail strike", "--index", index_copy, "-k", "3").exit_code == 0
    first = run(runner, "saved", "run", "rail", "--new", "-o", "ids", "--index", index_copy)
    assert RAIL in first.stdout.split()
    assert run(runner, "index", "add", SAMPLES / RAIL_COPY, "--index", index_copy, "-q").exit_code == 0
    again = run(runner, "saved", "run", "rail", "--new", "-o", "ids", "--index", index_copy)
    assert again.exit_code == 1 and again.stdout == ""
    copies = run(runner, "saved", "run", "rail", "--new", "--include-copies", "-o", "ids", "--index", index_copy)
    assert copies.exit_code == 0 and copies.stdout.split() == [RAIL_COPY]


def _open(root):
    class Opened:
        def __enter__(self):
            self.ix = OpenIndex(root)
            return self.ix

        def __exit__(self, *exc):
            self.ix.close()

    return Opened()


def test_clusters_follow_sync_and_a_removed_representative_is_replaced(runner, index_copy, tmp_path):
    feed = tmp_path / "feed"
    feed.mkdir()
    third = feed / "rail-third-copy.txt"
    third.write_text((SAMPLES / RAIL).read_text().replace("Northern Courier", "Test Wire")
                     + "\nDistributed by the Test Wire syndication desk.\n")
    assert run(runner, "index", "add", feed, "--index", index_copy, "-q").exit_code == 0
    third_id = "rail-third-copy.txt"
    with _open(index_copy) as ix:
        assert Clusters(ix.store).members([RAIL])[RAIL] == {RAIL, RAIL_COPY, third_id}
        [shown] = [r for r in stories(ix, "rail workers walk out over pay", k=3) if r.article.id in {RAIL, RAIL_COPY, third_id}]
    # Remove whichever article represents the story: another copy stands for it, with the rest.
    assert run(runner, "index", "rm", shown.article.id, "--index", index_copy).exit_code == 0
    with _open(index_copy) as ix:
        [now] = [r for r in stories(ix, "rail workers walk out over pay", k=3) if r.article.id in {RAIL, RAIL_COPY, third_id}]
        assert now.article.id != shown.article.id and len(now.duplicates) == 1
    third.unlink()
    assert run(runner, "index", "sync", feed, "--index", index_copy, "-q").exit_code == 0
    with _open(index_copy) as ix:
        left = {RAIL, RAIL_COPY, third_id} - {shown.article.id, third_id}
        for article_id in left:
            assert Clusters(ix.store).members([article_id])[article_id] == left


def test_a_signature_scheme_change_is_repaired(runner, index_copy):
    db = sqlite3.connect(IndexPaths(index_copy).store)
    db.execute("UPDATE meta SET value='some-older-scheme' WHERE key='dedup_scheme'")
    db.commit()
    db.close()
    with _open(index_copy) as ix:
        assert not Clusters(ix.store).available  # old signatures are not compared with new ones
    assert "no near-duplicate signature" in run(runner, "doctor", "--index", index_copy).stdout
    assert run(runner, "doctor", "--repair", "--index", index_copy).exit_code == 0
    with _open(index_copy) as ix:
        assert Clusters(ix.store).members([RATES])[RATES] == {RATES, RATES_COPY}


def test_an_engine_kept_open_follows_rm_and_add(runner, index_copy):
    """A server's engine keeps each generation's clusters and field lengths between searches; a
    new generation gets its own: a copy removed and added back shows, and the lexical scores of
    the changed index are a fresh engine's."""
    from search.engine import Engine, SearchRequest

    def rail(engine):
        [found] = [r for r in engine.search(SearchRequest("rail workers walk out over pay", k=5)).results
                   if r.article.id in {RAIL, RAIL_COPY}]
        return {found.article.id, *(a.id for a in found.duplicates)}

    def lexical(engine):
        return [(r.article.id, r.score) for r in engine.search(
            SearchRequest("rail strike pay union", mode="lexical", collapse=False, floor=False)).results]

    with Engine(index_copy) as engine:
        assert rail(engine) == {RAIL, RAIL_COPY}
        before = lexical(engine)
        assert run(runner, "index", "rm", RAIL_COPY, "--index", index_copy).exit_code == 0
        assert rail(engine) == {RAIL}
        assert run(runner, "index", "add", SAMPLES / RAIL_COPY, "--index", index_copy, "-q").exit_code == 0
        assert rail(engine) == {RAIL, RAIL_COPY}
        extra = index_copy / "extra"
        extra.mkdir()
        (extra / "long.txt").write_text("Union news\n\n" + "The rail union met again about pay. " * 60)
        assert run(runner, "index", "add", extra, "--index", index_copy, "-q").exit_code == 0
        changed = lexical(engine)
        with Engine(index_copy) as fresh:
            assert changed == lexical(fresh)
        assert changed != before
