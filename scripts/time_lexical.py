"""Warm lexical query latency, with Whoosh's pickles read through byline's restricted unpickler
(the default) or, with --plain-pickle, through the unrestricted one, to measure what the
restriction costs (index.safe_pickle).

    python scripts/time_lexical.py INDEX QUERIES.jsonl [--plain-pickle] [--rounds 5]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import safe_pickle  # noqa: E402
from search.cli_common import search_options  # noqa: E402
from search.opened import OpenIndex  # noqa: E402
from search.queries import read_queries  # noqa: E402
from search.ranker import Ranker  # noqa: E402


def plain_pickle() -> None:
    """Undo the restriction in this process only (for the comparison)."""
    import importlib

    for module_name, names in safe_pickle._NAMES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            if hasattr(module, name):
                setattr(module, name, {"pickle": pickle, "loads": pickle.loads, "load": pickle.load,
                                       "depickle": pickle.loads}[name])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index", type=Path)
    parser.add_argument("queries", type=Path)
    parser.add_argument("--plain-pickle", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.plain_pickle:
        plain_pickle()
    texts = [text for _, text in read_queries(args.queries)]
    ranker = Ranker(OpenIndex(args.index), search_options("lexical", 10, None, None, None, "rrf"))
    for text in texts:  # warm: files in the page cache, searchers open
        ranker.search(text)
    times = []
    for _ in range(args.rounds):
        for text in texts:
            started = time.perf_counter()
            ranker.search(text)
            times.append(time.perf_counter() - started)
    times.sort()
    print(f"{'plain' if args.plain_pickle else 'restricted'} pickle: {len(texts)} queries x {args.rounds}: "
          f"median {statistics.median(times) * 1e3:.2f} ms, mean {statistics.fmean(times) * 1e3:.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
