"""Feeds in and out: RSS and Atom files read as articles (feedparser, local bytes only), and a
saved search written as an Atom feed that feedparser reads back as valid Atom 1.0."""

from __future__ import annotations

import json

import feedparser
from typer.testing import CliRunner

from index.documents import Article, Skipped
from index.readers import read_paths
from search.frontends.cli import app

from conftest import NK

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbor Wire</title><link>https://harbor.example/</link>
<item><guid isPermaLink="false">harbor-0001</guid><title>Ferry workers vote to strike</title>
<link>https://harbor.example/a/1</link><pubDate>Tue, 04 Jun 2024 08:00:00 GMT</pubDate>
<author>desk@harbor.example (Ana Reyes)</author>
<description>&lt;p&gt;Ferry workers on the island routes voted to &lt;b&gt;strike&lt;/b&gt; over pay.&lt;/p&gt;
&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;The union said talks with the operator had failed.&lt;/p&gt;</description></item>
<item><title>Lighthouse museum reopens</title><link>https://harbor.example/a/2</link>
<description>The lighthouse museum reopened on Saturday after repairs.</description></item>
<item><title></title><description></description></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Coastal Courier</title><id>urn:x:cc</id>
<updated>2024-06-05T10:00:00Z</updated>
<entry><id>tag:coastal.example,2024:17</id><title>Port pilots join ferry dispute</title>
<link rel="alternate" href="https://coastal.example/17"/><updated>2024-06-05T09:30:00Z</updated>
<summary>Short summary.</summary>
<content type="html">&lt;p&gt;Port pilots said on Wednesday they would join the ferry workers' strike.&lt;/p&gt;</content>
</entry></feed>
"""


def read(path):
    items = list(read_paths([path]))
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Skipped)]


def test_rss_entries_are_articles(tmp_path):
    (tmp_path / "wire.rss").write_text(RSS)
    articles, skipped = read(tmp_path / "wire.rss")
    first, second = articles
    assert first.id == "harbor-0001" and first.title == "Ferry workers vote to strike"
    assert first.date == "2024-06-04" and first.source == "Harbor Wire" and first.url == "https://harbor.example/a/1"
    assert first.text == ("Ferry workers on the island routes voted to strike over pay.\n\n"
                          "The union said talks with the operator had failed.")  # HTML and script stripped
    assert "Ana Reyes" in first.author
    assert second.id == "https://harbor.example/a/2" and second.date is None  # no guid: the link
    assert [s.reason for s in skipped] == ["feed entry has no title or text"]


def test_atom_entry_content_over_summary(tmp_path):
    (tmp_path / "courier.atom").write_text(ATOM)
    [article], skipped = read(tmp_path / "courier.atom")
    assert not skipped
    assert article.id == "tag:coastal.example,2024:17" and article.source == "Coastal Courier"
    assert article.text == "Port pilots said on Wednesday they would join the ferry workers' strike."
    assert article.date == "2024-06-05" and article.url == "https://coastal.example/17"


def test_xml_that_is_not_a_feed_is_skipped(tmp_path):
    (tmp_path / "sitemap.xml").write_text('<?xml version="1.0"?><urlset><url><loc>x</loc></url></urlset>')
    (tmp_path / "broken.xml").write_bytes(b"\x00\x01 not xml at all <<<")
    articles, skipped = read(tmp_path)
    assert not articles and len(skipped) == 2


def test_feed_indexed_and_searched(index_copy, tmp_path):
    (tmp_path / "wire.xml").write_text(RSS)
    runner = CliRunner()
    result = runner.invoke(app, ["index", "add", str(tmp_path / "wire.xml"), "--index", str(index_copy), "-q", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new"] == 2
    found = runner.invoke(app, ["search", "ferry strike", "--mode", "lexical", "--index", str(index_copy),
                                "-o", "json", "-k", "1", "--no-server"])
    [top] = json.loads(found.stdout)["results"]
    assert top["id"] == "harbor-0001" and top["source"] == "Harbor Wire"


def test_saved_search_as_atom(index_copy):
    runner = CliRunner()
    assert runner.invoke(app, ["saved", "add", "nk", "who proposed talks without preconditions", "-k", "3",
                               "--index", str(index_copy)]).exit_code == 0
    as_json = json.loads(runner.invoke(app, ["saved", "run", "nk", "-o", "json", "--index", str(index_copy)]).stdout)
    result = runner.invoke(app, ["saved", "run", "nk", "--format", "atom", "--index", str(index_copy)])
    assert result.exit_code == 0, result.output
    feed = feedparser.parse(result.stdout.encode())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.feed.id == "urn:byline:saved:nk" and feed.feed.updated
    assert feed.feed.title == "byline: nk" and feed.feed.subtitle == "who proposed talks without preconditions"
    results = as_json["results"]
    assert [e.title for e in feed.entries] == [r["title"] for r in results]
    top = feed.entries[0]
    assert results[0]["id"] in NK and top.id == f"urn:byline:article:{results[0]['id']}"
    assert top.updated.startswith(results[0]["date"])
    assert top.summary == " ".join(results[0]["answer"]["text"].split())
    assert len({e.id for e in feed.entries}) == len(feed.entries)

    both = runner.invoke(app, ["saved", "add", "rail", "rail strike", "--index", str(index_copy)])
    assert both.exit_code == 0
    refused = runner.invoke(app, ["saved", "run", "--all", "--format", "atom", "--index", str(index_copy)])
    assert refused.exit_code == 2 and "one saved search" in refused.output


def test_feed_bytes_are_never_taken_for_a_file_name(tmp_path):
    """feedparser opens a bytes argument as a file name when it can: a .xml file holding the
    path of another file must not make byline read (and index) that other file."""
    secret = tmp_path / "elsewhere" / "private.rss"
    secret.parent.mkdir()
    secret.write_text(RSS)
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "pointer.xml").write_text(str(secret))
    articles, skipped = read(tmp_path / "feeds")
    assert not articles and len(skipped) == 1 and "not an RSS or Atom feed" in skipped[0].reason
