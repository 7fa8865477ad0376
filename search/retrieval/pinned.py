"""Hold every file of one generation open, so a search process reads that generation to its end.

A writer may commit twice while a long `--queries` batch runs and then delete the generation
the batch opened. Opening each file once, up front, keeps its data reachable after it is
unlinked; later opens go through `/proc/self/fd/N`, which gives an independent file position
on the same file. Where `/proc` is missing (not Linux), files are opened by name as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

_PROC_FD = Path("/proc/self/fd")


class PinnedFolder:
    """The files of a folder tree, each opened once when this is made."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.fds: dict[str, int] = {}
        if not _PROC_FD.is_dir():
            return
        try:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    self.fds[p.relative_to(folder).as_posix()] = os.open(p, os.O_RDONLY)
        except BaseException:
            self.close()
            raise

    def path(self, rel: str) -> Path:
        """A name that opens the pinned file (the real path when nothing is pinned)."""
        fd = self.fds.get(rel)
        return _PROC_FD / str(fd) if fd is not None else self.folder / rel

    def storage(self, sub: str) -> FileStorage:
        """A read-only Whoosh storage over the pinned files under `sub`."""
        return _PinnedStorage(self, sub)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}


class _PinnedStorage(FileStorage):
    def __init__(self, pinned: PinnedFolder, sub: str):
        super().__init__(str(pinned.folder / sub), readonly=True)
        self._pinned = pinned
        self._prefix = f"{sub}/"
        self._names = [rel[len(self._prefix):] for rel in pinned.fds if rel.startswith(self._prefix)]

    def _rel(self, name: str) -> str:
        return self._prefix + name

    def list(self):
        return list(self._names) if self._pinned.fds else super().list()

    def file_exists(self, name):
        return name in self._names if self._pinned.fds else super().file_exists(name)

    def file_length(self, name):
        return os.stat(self._pinned.path(self._rel(name))).st_size

    def file_modified(self, name):
        return os.stat(self._pinned.path(self._rel(name))).st_mtime

    def open_file(self, name, **kwargs):
        return StructFile(open(self._pinned.path(self._rel(name)), "rb"), name=name, **kwargs)
