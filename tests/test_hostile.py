"""Hostile files, hostile index folders, hostile text (issue 22): each attack must be refused or
made harmless, with a clear message and nothing already indexed lost."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import run
from index.documents import Article, Skipped
from index.readers import read_paths


def _ok_article(folder: Path) -> None:
    (folder / "ok.txt").write_text("Rail strike called off\n\nThe union and the operator agreed on pay late on Sunday.\n")


# --- 1. one file's failure skips that file, never the run ------------------------------------


def test_a_deeply_nested_json_file_is_skipped_and_the_rest_is_indexed(tmp_path, runner):
    src = tmp_path / "src"
    src.mkdir()
    (src / "d.json").write_text("[" * 100_000 + "]" * 100_000)
    (src / "e.jsonl").write_text('{"text": "A fine record about harbour dredging."}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    _ok_article(src)
    result = run(runner, "index", "add", src, "--index", tmp_path / "ix", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["new"] == 2
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert "nested too deeply" in reasons[str(src / "d.json")]
    assert "nested too deeply" in reasons[f"{src / 'e.jsonl'}:2"]
    status = run(runner, "status", "--index", tmp_path / "ix", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["articles"] == 2


def test_any_error_a_parser_raises_skips_the_file_with_its_reason(tmp_path):
    # json.loads raises ValueError (not JSONDecodeError) for an integer of more than 4300 digits.
    (tmp_path / "big.json").write_text('{"text": "a body", "id": ' + "7" * 5000 + "}")
    _ok_article(tmp_path)
    items = list(read_paths([tmp_path]))
    [skipped] = [i for i in items if isinstance(i, Skipped)]
    assert skipped.path == str(tmp_path / "big.json") and "ValueError" in skipped.reason
    assert [i.title for i in items if isinstance(i, Article)] == ["Rail strike called off"]


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path):
    # Root reads any folder whatever its mode, so the unlistable folder is one whose path is
    # longer than PATH_MAX (made one level at a time, relative to an open descriptor).
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(25):
        os.mkdir("d" * 200, dir_fd=fd)
        inner = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    _ok_article(tmp_path)
    items = list(read_paths([tmp_path]))
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert len(skipped) == 1 and "too long" in skipped[0].reason
    assert skipped[0].path.startswith(str(tmp_path / ("d" * 200)))
    assert sum(isinstance(i, Article) for i in items) == 1


# --- 6. manifest fields of the wrong type ------------------------------------------------------

BAD_FIELDS = [
    ("generation", "../../../etc"), ("generation", 1.5), ("generation", -1), ("generation", True),
    ("chunking", None), ("chunking", {"max_tokens": "200"}), ("chunking", {"max_tokens": 200, "x": 1}),
    ("files", [1, 2]), ("files", {"../../../etc/passwd": [1, "0" * 64]}), ("files", {"a": [1]}),
    ("dimension", "384"), ("dimension", 0), ("articles", None), ("chunks", -3), ("model_name", 7),
    ("vector_index", ["flat"]), ("backend", "ftp"), ("milvus_collection", "x; drop"),
    ("lead_centrality", "high"), ("created", {}), ("format_version", True),
    ("milvus_uri", "http://host;touch /tmp/x"), ("milvus_uri", "archive.sqlite"),
]


@pytest.mark.parametrize("name,value", BAD_FIELDS, ids=[f"{n}={v!r}"[:40] for n, v in BAD_FIELDS])
def test_a_manifest_field_of_the_wrong_type_gives_one_clear_message(index_copy, runner, tmp_path, name, value):
    manifest = index_copy / "manifest.json"
    data = json.loads(manifest.read_text())
    data[name] = value
    manifest.write_text(json.dumps(data))
    (tmp_path / "new.txt").write_text("Ferry timetable changes\n\nThe winter timetable starts on Monday.\n")
    for args in (["status"], ["doctor"], ["index", "add", tmp_path / "new.txt"], ["search", "-m", "lexical", "ferry"]):
        result = run(runner, *args, "--index", index_copy)
        assert result.exit_code == 2, (args, result.output)
        said = result.stderr + result.stdout
        assert "broken manifest" in said and repr(name) in said, (args, said)
    assert json.loads(manifest.read_text()) == data  # nothing was changed


def test_every_manifest_field_has_a_validation_rule():
    from dataclasses import fields

    from index.manifest import FIELD_RULES, Manifest

    assert {f.name for f in fields(Manifest)} <= set(FIELD_RULES)


def test_after_a_killed_first_run_status_and_doctor_say_the_same(tmp_path, runner, sample_index):
    from index.layout import IndexPaths

    ix = tmp_path / "ix"
    ix.mkdir()
    paths = IndexPaths(ix)
    paths.first_run_marker.write_text("a byline index being created\n")
    (ix / paths.store.name).write_bytes((sample_index / paths.store.name).read_bytes())
    status = run(runner, "status", "--index", ix)
    doctor = run(runner, "doctor", "--index", ix)
    assert status.exit_code == doctor.exit_code == 2
    assert "first run did not finish" in status.stderr and "index add" in status.stderr
    assert "first run did not finish" in doctor.stdout and "index add" in doctor.stdout
    assert "repair" not in status.stderr + doctor.stdout


# --- 2. an index folder never chooses where byline connects ------------------------------------


def _point_at_milvus(index: Path, uri: str) -> None:
    manifest = index / "manifest.json"
    data = json.loads(manifest.read_text())
    data.update(backend="milvus", milvus_uri=uri, milvus_collection="byline_copied")
    manifest.write_text(json.dumps(data))


@pytest.fixture
def listener():
    """A loopback TCP port that records whether anything connected to it."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connected(sock) -> bool:
    import selectors  # poll-based: select() fails once the process holds over 1,024 descriptors

    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        return bool(sel.select(0.5))


def test_a_copied_index_naming_a_milvus_server_makes_no_connection(index_copy, runner, tmp_path, listener,
                                                                    monkeypatch):
    monkeypatch.setenv("BYLINE_MILVUS_TOKEN", "root:secret")
    monkeypatch.delenv("BYLINE_MILVUS_URI", raising=False)
    uri = "http://127.0.0.1:%d" % listener.getsockname()[1]
    _point_at_milvus(index_copy, uri)
    (tmp_path / "new.txt").write_text("Ferry timetable changes\n\nThe winter timetable starts on Monday.\n")
    for args in (["search", "who proposed talks"], ["search", "-m", "lexical", "talks"], ["doctor"],
                 ["index", "add", tmp_path / "new.txt"], ["doctor", "--repair"]):
        result = run(runner, *args, "--index", index_copy)
        said = result.stderr + result.stdout
        assert result.exit_code == 2, (args, said)
        assert "does not choose where byline connects" in said and "BYLINE_MILVUS_URI" in said, (args, said)
    assert not _connected(listener)
    # An address the user gives that differs from the recorded one is refused too.
    monkeypatch.setenv("BYLINE_MILVUS_URI", "http://127.0.0.1:9")
    result = run(runner, "search", "-m", "lexical", "talks", "--index", index_copy)
    assert result.exit_code == 2 and "but you gave http://127.0.0.1:9" in result.stderr
    assert not _connected(listener)


def test_a_milvus_lite_file_outside_the_index_folder_must_come_from_the_user(index_copy, runner, tmp_path,
                                                                            monkeypatch):
    monkeypatch.delenv("BYLINE_MILVUS_URI", raising=False)
    elsewhere = tmp_path / "elsewhere" / "archive.db"
    _point_at_milvus(index_copy, str(elsewhere))
    result = run(runner, "search", "-m", "lexical", "talks", "--index", index_copy)
    assert result.exit_code == 2 and "outside the index folder" in result.stderr
    assert not (tmp_path / "elsewhere").exists()  # not even a lock file was made there


# --- 5. terminal escape sequences in article text ----------------------------------------------

OSC_TITLE, CLEAR, C1_CSI = "\x1b]0;pwned\x07", "\x1b[2J", "\x9b31m"
OSC8 = "\x1b]8;;http://evil.example/\x1b\\here\x1b]8;;\x1b\\"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _hostile_article(article_id: str = "crane\x1b[2J-report") -> Article:
    return Article(id=article_id, title=f"{OSC_TITLE}Harbour crane {CLEAR}topples",
                   text=f"The harbour crane toppled in gusts {OSC8} at dawn.{C1_CSI} Nobody was hurt, "
                        "the port authority said after the harbour crane fell.",
                   date="2023-10-09", source=f"Quay{CLEAR} Times", url="http://example.org/\x1b[2Jcrane",
                   author=f"Ann{OSC_TITLE} Lee")


@pytest.fixture(scope="module")
def escape_index(tmp_path_factory, embedder) -> Path:
    """An index holding control characters, as one built before they were stripped at ingest."""
    from index.builder import add_articles
    from index.layout import IndexPaths

    root = tmp_path_factory.mktemp("escapes") / "ix"
    ferry = Article(id="ferry-notice", title="Ferry timetable changes", url="javascript:alert(document.cookie)",
                    text="The winter ferry timetable starts on Monday, the harbour office said.", date="2023-10-10")
    add_articles(IndexPaths(root), [_hostile_article(), ferry], embedder)
    return root


def _raw_controls(result) -> list[str]:
    return RAW_CONTROL.findall(result.stdout + result.stderr)


def test_readers_strip_control_characters_from_every_field(tmp_path):
    record = {"id": "a\x1b[2Jb", "title": f"{OSC_TITLE}Crane", "text": f"Body {OSC8} {C1_CSI}end.\r\nNext\tline",
              "source": f"Quay{CLEAR}", "url": "http://x.example/\x07", "author": f"Ann{OSC_TITLE}"}
    (tmp_path / "a.json").write_text(json.dumps(record))
    (tmp_path / "b.txt").write_text(f"{OSC_TITLE}Title\nSource: Quay{CLEAR} Times\n\nBody{C1_CSI} text.\n")
    articles = [i for i in read_paths([tmp_path]) if isinstance(i, Article)]
    assert len(articles) == 2
    for a in articles:
        for value in (a.id, a.title, a.text, a.source, a.url, a.author):
            assert value is None or not RAW_CONTROL.search(value), value
    assert articles[0].text == "Body ]8;;http://evil.example/\\here]8;;\\ 31mend.\nNext\tline"


@pytest.mark.parametrize("args", [
    ["search", "harbour crane", "-o", "table"], ["search", "harbour crane", "-a"],
    ["search", "harbour crane", "-o", "ids"], ["search", "harbour crane", "-o", "trec"],
    ["search", "harbour crane", "-o", "json"], ["search", "harbour crane", "-o", "jsonl"],
    ["search", "harbour crane", "-m", "lexical", "-o", "table"], ["status"], ["doctor"],
], ids=lambda a: " ".join(a[:1] + a[2:]))
def test_no_control_character_reaches_the_terminal(escape_index, runner, args):
    result = run(runner, *args, "--index", escape_index)
    assert result.exit_code in (0, 1), result.output
    assert "Quay" in result.stdout or args[0] == "doctor" or "-report" in result.stdout
    assert _raw_controls(result) == []


def test_json_output_keeps_the_text_as_data(escape_index, runner):
    result = run(runner, "search", "harbour crane", "-o", "json", "--index", escape_index)
    [top] = json.loads(result.stdout)["results"][:1]
    assert top["title"] == f"{OSC_TITLE}Harbour crane {CLEAR}topples"  # escaped in the bytes, same value


def test_saved_list_and_show_escape_control_characters(index_copy, runner):
    query = f"rail {CLEAR}strike{C1_CSI}"
    assert run(runner, "saved", "add", "evil", query, "--index", index_copy).exit_code == 0
    for args in (["saved", "list"], ["saved", "show", "evil"], ["saved", "list", "-o", "json"]):
        result = run(runner, *args, "--index", index_copy)
        assert result.exit_code == 0 and "strike" in result.stdout, result.output
        assert _raw_controls(result) == [], args


def test_skipped_file_names_are_shown_escaped(tmp_path, runner):
    src = tmp_path / "src"
    src.mkdir()
    (src / f"bad{CLEAR}.json").write_text("[" * 100_000)
    result = run(runner, "index", "add", src, "--index", tmp_path / "ix")
    assert "bad" in result.stderr and _raw_controls(result) == []


# --- overlapping `saved run --new` ---------------------------------------------------------------


def test_overlapping_new_runs_report_each_article_once(index_copy):
    import subprocess
    import sys

    byline = str(Path(sys.executable).with_name("byline"))
    env = {**os.environ, "BYLINE_INDEX": str(index_copy)}
    add = subprocess.run([byline, "saved", "add", "talks", "talks OR strike OR rates OR bank", "-m", "lexical",
                          "-k", "20"], env=env, capture_output=True, text=True)
    assert add.returncode == 0, add.stderr
    runs = [subprocess.Popen([byline, "saved", "run", "talks", "--new", "-o", "ids"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    reported = []
    for p in runs:
        out, err = p.communicate(timeout=120)
        assert p.returncode in (0, 1), err
        reported += out.split()
    everything = subprocess.run([byline, "saved", "run", "talks", "-o", "ids"], env=env, capture_output=True,
                                text=True).stdout.split()
    assert len(everything) > 3
    assert sorted(reported) == sorted(everything)  # each once, none lost


# --- Atom output ------------------------------------------------------------------------------


def test_atom_output_keeps_only_http_links_and_is_valid_xml(escape_index, runner):
    import xml.etree.ElementTree as ET

    assert run(runner, "saved", "add", "harbour", "harbour", "-m", "lexical", "--index", escape_index).exit_code == 0
    result = run(runner, "saved", "run", "harbour", "-o", "atom", "--index", escape_index)
    assert result.exit_code == 0, result.output
    feed = ET.fromstring(result.stdout.split("\n", 1)[1])  # control characters would make it invalid XML
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert "Ferry timetable changes" in titles and len(titles) == 2
    links = [link.get("href") for link in feed.iter("{http://www.w3.org/2005/Atom}link")]
    assert links and all(h.startswith("http://") for h in links), links
    assert "javascript:" not in result.stdout


def test_on_a_real_terminal_only_byline_s_own_styling_is_written(escape_index):
    """Through a pseudo-terminal, where the table is drawn with colours: the article's own
    sequences (window title, clear screen, OSC 8 link, one-byte CSI) are not among the bytes."""
    import pty
    import subprocess
    import sys

    byline = str(Path(sys.executable).with_name("byline"))
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([byline, "search", "harbour crane", "-m", "lexical", "--index", str(escape_index)],
                            stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(primary)
    assert b"topples" in seen and b"\x1b[" in seen  # a table, in colour
    for injected in (b"\x1b]0;", b"\x1b[2J", b"\x1b]8;", b"\x07", "\x9b".encode()):  # UTF-8 terminal
        assert injected not in seen, injected
