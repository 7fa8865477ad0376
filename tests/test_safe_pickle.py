"""An index is data: opening or searching one never runs code stored in its Whoosh pickles."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import pkgutil
import zlib

import pytest
from typer.testing import CliRunner

from index import lexical, safe_pickle
from index.layout import IndexPaths
from search.frontends.cli import app

QUESTION = "who proposed talks without preconditions"
PWNED = "pwned"  # what the crafted pickles would create in the working folder


class RunsCommand:
    """Pickles as a call of os.system, the way a crafted index file would."""

    def __reduce__(self):
        return os.system, (f"touch {PWNED}",)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def committed_lexical(root) -> "os.PathLike":
    paths = IndexPaths(root)
    return paths.lexical(json.loads(paths.manifest.read_text())["generation"])


def craft_toc(root) -> str:
    """Rewrite the committed TOC with a segment list that unpickles through os.system."""
    from whoosh.index import TOC

    ix = lexical.open_existing(committed_lexical(root))
    toc = TOC.read(ix.storage, ix.indexname)
    name = TOC._filename(ix.indexname, toc.generation)
    ix.storage.delete_file(name)
    TOC(toc.schema, [RunsCommand()], toc.generation).write(ix.storage, ix.indexname)
    return name


def craft_posting_block(root, term: str) -> str:
    """Overwrite the first posting block of body:term in place with a pickle calling os.system."""
    ix = lexical.open_existing(committed_lexical(root))
    with ix.searcher() as searcher:
        segment = next(r for r, _ in searcher.reader().leaf_readers() if ("body", term) in r)
        matcher = segment.postings("body", term)
        matcher = getattr(matcher, "child", matcher)
        offset, length = matcher._dataoffset, matcher._nextoffset - matcher._dataoffset
        compressed, path = matcher._compression, matcher._postfile.file.name
    payload = f"cposix\nsystem\n(V{'touch ' + PWNED}\ntR.".encode()
    if compressed:
        payload = zlib.compress(payload)
    assert len(payload) <= length
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(payload + b"\0" * (length - len(payload)))
    return os.path.basename(path)


def test_crafted_toc_is_refused_by_search_doctor_and_index_add(index_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toc_name = craft_toc(index_copy)
    assert not (tmp_path / PWNED).exists()  # writing it ran nothing
    for args in (["search", QUESTION, "--mode", "lexical"], ["search", QUESTION], ["doctor"]):
        result = run(*args, "--index", index_copy)
        assert result.exit_code == 2, (args, result.output)
        assert toc_name in result.output and "refused to load posix.system" in result.output, result.output
        assert not (tmp_path / PWNED).exists(), args
    (tmp_path / "new.txt").write_text("Harbour reopens\n\nThe harbour reopened after dredging.")
    added = run("index", "add", tmp_path / "new.txt", "--index", index_copy, "-q")
    assert added.exit_code == 2 and toc_name in added.output and "refused to load" in added.output
    assert not (tmp_path / PWNED).exists()
    # The lexical and vector indexes are derived data: repair rebuilds them from the article store.
    assert run("doctor", "--repair", "--index", index_copy).exit_code == 0
    assert run("search", QUESTION, "--index", index_copy, "-o", "ids").exit_code == 0


def test_crafted_posting_block_is_refused_by_lexical_and_hybrid_search(index_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    postings_file = craft_posting_block(index_copy, "said")
    for mode in ("lexical", "hybrid"):
        result = run("search", "what was said", "--mode", mode, "--index", index_copy)
        assert result.exit_code == 2, (mode, result.output)
        assert postings_file in result.output and "refused to load posix.system" in result.output
        assert not (tmp_path / PWNED).exists(), mode
    run("doctor", "--index", index_copy)
    assert not (tmp_path / PWNED).exists()


def test_restricted_unpickler_loads_whoosh_types_and_refuses_others():
    schema = lexical.schema()
    assert safe_pickle.loads(pickle.dumps(schema, 2)) == schema
    assert safe_pickle.loads(pickle.dumps(({1, 2}, frozenset("ab"), b"x", [1.5]), 2))[0] == {1, 2}
    # An empty bytes value is written as a call of bytes() (protocol 2): allowed, with no arguments.
    assert safe_pickle.loads(pickle.dumps([b"", {"k": b""}], 2)) == [b"", {"k": b""}]
    with pytest.raises(safe_pickle.UnsafeIndexData, match="bytes"):
        safe_pickle.loads(b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x10\x85R.")  # bytes(2**28)
    for evil in (RunsCommand(), getattr, __import__("subprocess").Popen):
        with pytest.raises(safe_pickle.UnsafeIndexData, match="refused to load"):
            safe_pickle.loads(pickle.dumps(evil, 2))


def test_the_writers_spilled_posting_runs_load_empty_values():
    """A large ingest spills sorted postings to temporary files and reads them back through the
    restricted loader; a posting's empty value pickles as bytes() (it failed SciFact's ingest)."""
    from whoosh.externalsort import SortingPool

    pool = SortingPool(maxsize=2)
    safe_pickle.install()
    items = [("body", b"term%d" % i, i, 1.0, b"") for i in range(5)]
    for item in reversed(items):
        pool.add(item)
    assert list(pool.items()) == items


def test_every_whoosh_pickle_loader_is_the_restricted_one():
    """No Whoosh module keeps a name bound to an unrestricted pickle loader (a new Whoosh release
    that adds one fails here)."""
    import whoosh

    unsafe = {id(pickle), id(pickle.loads), id(pickle.load), id(pickle.Unpickler)}
    for info in pkgutil.walk_packages(whoosh.__path__, "whoosh."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # modules of old Whoosh that no longer import cannot run either
            continue
        bound = [name for name, value in vars(module).items() if id(value) in unsafe]
        assert not bound, f"{info.name} binds {bound}"
    from whoosh.index import toc_loaders

    assert not toc_loaders
