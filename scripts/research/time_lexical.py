"""What reading Whoosh's pickles through byline's restricted unpickler costs (index.safe_pickle):
warm lexical query latency with it and with the unrestricted `pickle` loaders, interleaved query
by query in one process and timed in CPU time, so other processes on the machine do not decide.

    python scripts/time_lexical.py INDEX QUERIES.jsonl [--rounds 10]
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
from search.frontends.cli_common import search_options  # noqa: E402
from search.retrieval.opened import OpenIndex  # noqa: E402
from search.queries import read_queries  # noqa: E402
from search.ranking.ranker import Ranker  # noqa: E402


def use(restricted: bool) -> None:
    """Bind Whoosh's pickle names to the restricted loaders or to plain `pickle`'s."""
    import importlib

    plain = {"pickle": pickle, "loads": pickle.loads, "load": pickle.load, "depickle": pickle.loads}
    safe = {"pickle": safe_pickle._pickle_module(), "loads": safe_pickle.loads, "load": safe_pickle.load,
            "depickle": safe_pickle.loads}
    for module_name, names in safe_pickle._NAMES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            if hasattr(module, name):
                setattr(module, name, (safe if restricted else plain)[name])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index", type=Path)
    parser.add_argument("queries", type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    texts = [text for _, text in read_queries(args.queries)]
    ranker = Ranker(OpenIndex(args.index), search_options("lexical", 10, None, None, None, "rrf"))
    for text in texts:  # warm: files in the page cache, searchers open
        ranker.search(text)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for text in texts:
            for restricted in (True, False):
                use(restricted)
                started = time.process_time()
                ranker.search(text)
                times[restricted].append(time.process_time() - started)
    for restricted, label in ((False, "plain pickle"), (True, "restricted")):
        t = sorted(times[restricted])
        print(f"{label:>12}: {len(texts)} queries x {args.rounds}: median {statistics.median(t) * 1e3:.2f} ms, "
              f"mean {statistics.fmean(t) * 1e3:.2f} ms, p95 {t[int(len(t) * 0.95)] * 1e3:.2f} ms (CPU time)")
    ratio = statistics.fmean(times[True]) / statistics.fmean(times[False])
    print(f"restricted / plain, mean: {ratio:.3f}")

if __name__ == "__main__":
    main()
