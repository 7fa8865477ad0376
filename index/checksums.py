"""Sizes and checksums of the files of one generation, recorded at commit and checked by doctor.

Whoosh never rewrites a segment file and a new generation holds hard links to the unchanged
ones, so a file that is the same inode as in the previous generation keeps its recorded checksum
instead of being read again: a commit hashes only what it wrote.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_BLOCK = 1 << 20


def file_digest(path: Path) -> str:
    # SHA-256: 1.7 GB/s here with the CPU's SHA instructions, twice blake2b (a 0.74 GB FAISS
    # file, as at 100,000 articles, costs 0.4 s at each commit that rewrites it).
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    """The data files of a generation folder (Whoosh's lock files are not data)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not p.name.endswith(".lock") and "WRITELOCK" not in p.name)


def record(folder: Path, previous: dict | None = None, previous_folder: Path | None = None) -> dict:
    """{path relative to `folder`: [size, checksum]} for every file of a generation folder."""
    out = {}
    for p in _files(folder):
        rel = p.relative_to(folder).as_posix()
        size = p.stat().st_size
        old = (previous or {}).get(rel)
        if old and previous_folder is not None and old[0] == size and _same_file(p, previous_folder / rel):
            out[rel] = list(old)
        else:
            out[rel] = [size, file_digest(p)]
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def verify(folder: Path, recorded: dict) -> list[str]:
    """What differs from the record: missing, resized or changed files, one line each."""
    problems = []
    for rel, (size, digest) in sorted(recorded.items()):
        p = folder / rel
        try:
            actual = p.stat().st_size
            if actual != size:
                problems.append(f"{p} has {actual} bytes, {size} were written")
            elif file_digest(p) != digest:
                problems.append(f"{p} has changed since it was written (checksum differs)")
        except FileNotFoundError:
            problems.append(f"{p} is missing")
        except OSError as exc:
            problems.append(f"{p} cannot be read: {exc.strerror or exc}")
    return problems
