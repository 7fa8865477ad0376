"""Hostile files, hostile index folders, hostile text (issue 22): each attack must be refused or
made harmless, with a clear message and nothing already indexed lost."""

from __future__ import annotations

import json
import os
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
    import select

    return bool(select.select([sock], [], [], 0.5)[0])


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
