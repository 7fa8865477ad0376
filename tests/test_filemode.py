"""Files byline writes get the permissions of the user's umask, like any file the user creates."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from index.filemode import current_umask
from index.layout import IndexPaths
from search.saved import SavedSearch, SavedStore


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o002])
def test_manifest_saved_searches_and_state_follow_the_umask(index_copy, umask):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        store = SavedStore(index_copy)
        with store.editing() as searches:
            searches["rates"] = SavedSearch(name="rates", query="central bank rates")
        store.mark_seen({"rates": ["a.txt"]})
        from index.manifest import load_manifest, save_manifest

        paths = IndexPaths(index_copy)
        save_manifest(paths, load_manifest(paths))
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    for path in (paths.manifest, store.definitions, store.state_dir / "rates.json"):
        assert mode(path) == expected, (path, oct(mode(path)))


def test_umask_is_read_without_changing_it():
    """Another process's view: reading the umask leaves it as it was."""
    code = "import os; os.umask(0o027); from index.filemode import current_umask as u; print(oct(u()), oct(u()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0o27", "0o27"]
