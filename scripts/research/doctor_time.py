"""Question: how long does `byline doctor` take, part by part, and what would it take at 100k articles?

    python scripts/research/doctor_time.py INDEX [--target-bytes 2.6e9] [--repeat 3]

Give a copy of an index (doctor only reads it). An index written before file checksums existed
gets them at its next commit (e.g. `byline index rm NOTHING --index COPY`). Each part's time is
scaled to the target size by bytes read (the parts are linear scans), page cache warm.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from index import checksums, doctor  # noqa: E402
from index.layout import IndexPaths  # noqa: E402
from index.store import ArticleStore  # noqa: E402


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--target-bytes", type=float, default=2.6e9, help="index size to extrapolate to")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = IndexPaths(args.index)
    manifest = json.loads(paths.manifest.read_text())
    g = manifest["generation"]
    if not manifest.get("files"):
        sys.exit("no file checksums in this manifest yet; commit once (byline index rm NOTHING --index COPY)")
    store_bytes = paths.store.stat().st_size
    files_bytes = sum(size for size, _ in manifest["files"].values())
    total = store_bytes + files_bytes

    def store_part(sql_fn):
        def go():
            store = ArticleStore(paths.store, g, readonly=True)
            try:
                sql_fn(store)
            finally:
                store.close()
        return go

    parts = {
        "integrity_check (store)": (store_part(lambda s: s.db.execute("PRAGMA integrity_check").fetchone()), store_bytes),
        "row checksums (store)": (store_part(lambda s: s.verify_rows()), store_bytes),
        "file checksums (Whoosh, FAISS)": (lambda: checksums.verify(paths.generation(g), manifest["files"]), files_bytes),
        "whole doctor check()": (lambda: doctor.check(paths), total),
    }
    scale = args.target_bytes / total
    print(f"index {paths.root}: {manifest['articles']} articles, store {store_bytes / 1e6:.1f} MB, "
          f"generation files {files_bytes / 1e6:.1f} MB; scaled x{scale:.0f} to {args.target_bytes / 1e9:.1f} GB")
    for name, (fn, _) in parts.items():
        seconds = timed(fn, args.repeat)
        print(f"  {name:<32} {seconds:7.3f} s   -> {seconds * scale:7.1f} s at the target size")


if __name__ == "__main__":
    main()
