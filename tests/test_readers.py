"""Readers: every supported format, metadata, field mapping, and bad files skipped with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.dates import parse_date
from index.documents import Article, Skipped, UnreadFields
from index.readers import FieldMap, read_paths

from conftest import NK_SEED, SAMPLES


def read(*paths: Path, fields: FieldMap | None = None):
    items = list(read_paths(list(paths), fields))
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Skipped)]


def test_text_article_header_lines(tmp_path):
    (tmp_path / "a.txt").write_text(
        "Central bank holds rates\nDate: March 16, 2023\nSource: Harbor Times\nURL: https://x.test/a\n\n"
        "The bank kept its rate at 4.25%.\n\nInflation cooled.")
    [article], skipped = read(tmp_path)
    assert not skipped
    assert article.id == "a.txt"
    assert article.title == "Central bank holds rates"
    assert article.date == "2023-03-16"
    assert article.source == "Harbor Times"
    assert article.url == "https://x.test/a"
    assert article.text == "The bank kept its rate at 4.25%.\n\nInflation cooled."


def test_repeated_title_is_not_repeated_in_body(seed_dir):
    [article], _ = read(seed_dir / NK_SEED)
    assert article.title.startswith("The US believes North Korea is attracting attention")
    assert not article.text.startswith("The US believes North Korea")
    assert article.text.startswith("US Secretary of State Antony Blinken")


def test_markdown_front_matter_and_syntax(tmp_path):
    (tmp_path / "b.md").write_text(
        "---\ntitle: Storm floods towns\ndate: 2021-10-30T08:00:00Z\nsource: Evening Meridian\n---\n"
        "Gusts topped **140 km/h** as [rivers](http://x) burst their banks.\n")
    [article], _ = read(tmp_path)
    assert article.title == "Storm floods towns"
    assert article.date == "2021-10-30"
    assert article.text == "Gusts topped 140 km/h as rivers burst their banks."


def test_html_main_text_title_and_meta_date(tmp_path):
    (tmp_path / "page.html").write_text("""<html><head><title>Site | Turtles nest</title>
        <meta property="article:published_time" content="2022-05-19T10:00:00+02:00">
        <meta property="og:site_name" content="Riverside Gazette">
        <script>var tracking = "do not index me";</script></head>
        <body><nav>Home | World</nav><article><h1>Turtles set nesting record</h1>
        <p>Rangers counted 412 loggerhead nests.</p><p>Volunteers patrol at night.</p></article>
        <footer>Copyright</footer></body></html>""")
    [article], _ = read(tmp_path)
    assert article.title == "Turtles set nesting record"
    assert article.date == "2022-05-19"
    assert article.source == "Riverside Gazette"
    assert article.text == "Rangers counted 412 loggerhead nests.\n\nVolunteers patrol at night."
    assert "tracking" not in article.text and "Home" not in article.text


def test_jsonl_records_with_one_broken_line(tmp_path):
    good = {"_id": "n1", "title": "Rail strike", "body": "Trains stopped.", "published": "2023-01-26",
            "source": "Northern Courier", "url": "https://x.test/n1"}
    (tmp_path / "feed.jsonl").write_text(json.dumps(good) + "\n{broken json\n"
                                         + json.dumps({"title": "No id", "content": "Text."}) + "\n")
    articles, skipped = read(tmp_path)
    assert [a.id for a in articles] == ["n1", "feed.jsonl#3"]
    assert articles[0].text == "Trains stopped." and articles[0].date == "2023-01-26"
    assert articles[0].source == "Northern Courier" and articles[0].url == "https://x.test/n1"
    assert len(skipped) == 1 and skipped[0].path.endswith("feed.jsonl:2") and "invalid JSON" in skipped[0].reason


def test_json_list_and_field_mapping(tmp_path):
    records = [{"key": "x1", "headline": "Tablet launch", "story": "A foldable tablet.", "when": "12 Sep 2023"}]
    (tmp_path / "items.json").write_text(json.dumps(records))
    fields = FieldMap.parse(["id=key", "text=story", "date=when"])
    [article], skipped = read(tmp_path, fields=fields)
    assert not skipped
    assert (article.id, article.title, article.text, article.date) == ("x1", "Tablet launch", "A foldable tablet.", "2023-09-12")


def test_several_unread_fields_are_named_in_one_note_with_an_example_mapping(tmp_path):
    records = [{"id": "r1", "text": "Harbour opens.", "colour": "red", "pub_time": "2023-01-02", "mood": "calm"}]
    (tmp_path / "r.jsonl").write_text(json.dumps(records[0]) + "\n")
    [article], [note] = read(tmp_path)
    assert isinstance(note, UnreadFields) and note.path == str(tmp_path / "r.jsonl")
    assert note.reason == ("fields colour, pub_time, mood are not read; map one with --field ATTR=NAME "
                           "(e.g. --field date=pub_time)")


def test_csv_records_and_missing_text_column(tmp_path):
    (tmp_path / "a.csv").write_text("id,title,text,date,source\nc1,Film festival,Opening night.,2021-05-20,Pacific Dispatch\n")
    (tmp_path / "b.csv").write_text("id,title\nc2,\n")
    articles, skipped = read(tmp_path)
    assert [(a.id, a.source, a.date) for a in articles] == [("c1", "Pacific Dispatch", "2021-05-20")]
    assert any("b.csv" in s.path and "no text field" in s.reason for s in skipped)


def test_bad_files_are_skipped_with_reasons_and_the_rest_read(tmp_path):
    (tmp_path / "good.txt").write_text("Title\n\nBody text.")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "latin1.txt").write_bytes("Café crème\n\nLe marché a ouvert à Besançon.".encode("latin-1"))
    articles, skipped = read(tmp_path)
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons == {"empty.txt": "empty file", "binary.txt": "binary file, not text",
                       "photo.jpg": "unsupported file type .jpg"}
    assert sorted(a.id for a in articles) == ["good.txt", "latin1.txt"]
    assert next(a for a in articles if a.id == "latin1.txt").text == "Le marché a ouvert à Besançon."


def test_nested_folders_use_relative_ids_and_symlink_loops_end(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "x.txt").write_text("Deep title\n\nDeep body.")
    (deep / "loop").symlink_to(tmp_path / "a")
    articles, _ = read(tmp_path)
    assert [a.id for a in articles] == ["a/b/c/x.txt"]


def test_samples_all_read_with_title_date_and_source():
    articles, skipped = read(SAMPLES)
    assert len(articles) >= 16
    assert all(a.title and a.date and a.source and a.text for a in articles)
    assert [Path(s.path).name for s in skipped] == ["README.md"]


def test_parse_date_forms():
    assert parse_date("2022-01-14T09:30:00Z") == "2022-01-14"
    assert parse_date("Fri, 14 Jan 2022 09:30:00 +0000") == "2022-01-14"
    assert parse_date("January 14th, 2022") == "2022-01-14"
    assert parse_date("14/01/2022") == "2022-01-14"
    assert parse_date(1642152600) == "2022-01-14"
    assert parse_date("yesterday") is None
    assert parse_date("2022-13-45") is None


# --- property-based: readers never crash, whatever the bytes ------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from index.readers import UnreadableFile, decode, parse_html, parse_plain  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_decode_returns_text_or_refuses_clearly(raw):
    try:
        text = decode(raw)
    except UnreadableFile as exc:
        assert str(exc)
    else:
        assert isinstance(text, str) and text.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.booleans())
def test_plain_and_markdown_parse_any_text(text, markdown):
    article = parse_plain(text, "x.txt", markdown=markdown)
    if article is not None:
        assert article.id == "x.txt"
        assert "\n" not in article.title
        assert article.date is None or len(article.date) == 10


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=1500))
def test_html_parser_survives_any_markup(text):
    article = parse_html(f"<html><body><p>{text}</p><script>{text}</script></body></html>", "x.html")
    assert article is None or article.text.strip()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(
    st.text(max_size=80),
    st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8), "text": st.text(max_size=80)}).map(json.dumps),
), max_size=12))
def test_jsonl_reader_reads_good_lines_and_skips_bad_ones(tmp_path, lines):
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(line.replace("\n", " ") for line in lines), encoding="utf-8")
    items = list(read_paths([path]))
    assert all(isinstance(i, (Article, Skipped)) for i in items)
    for item in items:
        if isinstance(item, Article):
            assert item.text.strip()
        else:
            assert item.reason


def test_jsonl_lines_decode_one_by_one(tmp_path):
    """A feed is read a line at a time: a Windows-1252 line does not change how the others read."""
    utf8 = json.dumps({"id": "u", "title": "Café society", "text": "Zoë met the mayor."}, ensure_ascii=False)
    legacy = json.dumps({"id": "w", "title": "Caf\u00e9 prices", "text": "Prices rose \u2013 again."},
                        ensure_ascii=False).encode("cp1252")
    (tmp_path / "mixed.jsonl").write_bytes(b"\xef\xbb\xbf" + utf8.encode() + b"\n\n" + legacy + b"\n\x81\x8d\n")
    found = list(read_paths([tmp_path]))
    articles = {a.id: a for a in found if isinstance(a, Article)}
    assert articles["u"].title == "Café society" and articles["u"].text == "Zoë met the mayor."
    assert articles["w"].title == "Café prices" and articles["w"].text == "Prices rose – again."
    [bad] = [s for s in found if isinstance(s, Skipped)]
    assert bad.path.endswith("mixed.jsonl:4") and "not UTF-8" in bad.reason


@pytest.mark.parametrize("content, reason", [(b"\n \n\r\n", "empty"), (b"\xef\xbb\xbf\n", "empty"),
                                             (b"\x00\x01\x02" * 100, "binary")])
def test_jsonl_empty_or_binary_is_skipped_with_a_reason(tmp_path, content, reason):
    (tmp_path / "feed.jsonl").write_bytes(content)
    [skipped] = list(read_paths([tmp_path]))
    assert isinstance(skipped, Skipped) and reason in skipped.reason
