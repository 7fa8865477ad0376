"""Question: which relevance cut should `--sort date`, `--recent` and `byline timeline` use?

The relevant set of a query is the ranked articles scoring at least CUT times the top score
(search/stories/view.py, RELEVANCE_CUT by mode). For each CUT this prints, over the judged queries
of the given sets, the share of judged-relevant articles inside the set (recall), the share of the set that is judged
relevant (precision), F1 and the mean set size, in the default hybrid mode and in lexical mode.

    .venv/bin/python scripts/research/relevance_cut.py bbc_qa_dev bbc_qa_dev2 --index INDEX

INDEX is an index of the sets' corpus (e.g. one scripts/research/evaluate.py cached).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from testsets import load_set, sanitize  # noqa: E402
from search.retrieval.opened import OpenIndex  # noqa: E402
from search.ranking.ranker import Ranker, SearchOptions  # noqa: E402
from search.stories.view import FETCH_ALL, relevant  # noqa: E402

CUTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()
    index = OpenIndex(args.index)
    tests = [load_set(s, "test", None) for s in args.sets]
    queries = [(t.qrels[q], sanitize(text)) for t in tests for q, text in t.queries.items()]
    for mode in ("hybrid", "hybrid, lexical match required", "lexical", "semantic"):
        ranker = Ranker(index, SearchOptions(mode=mode.split(",")[0], k=FETCH_ALL))
        rankings = [ranker.rank(c, replace(ranker.options, k=FETCH_ALL))
                    for c in ranker.retrieve([text for _, text in queries])]
        if "lexical match" in mode:
            rankings = [[r for r in ranked if r.lexical_rank is not None] for ranked in rankings]
        print(f"{mode}: {len(queries)} queries")
        print("   cut  recall  precision     F1  mean size")
        for cut in CUTS:
            rec, prec, size = [], [], []
            for (judged, _), ranked in zip(queries, rankings):
                kept = {r.article.id for r in relevant(ranked, cut)}
                good = {d for d, g in judged.items() if g > 0}
                rec.append(len(kept & good) / len(good))
                prec.append(len(kept & good) / len(kept) if kept else 0.0)
                size.append(len(kept))
            r, p = statistics.mean(rec), statistics.mean(prec)
            print(f"  {cut:4.1f}  {r:6.3f}  {p:9.3f}  {2 * r * p / (r + p) if r + p else 0:5.3f}  {statistics.mean(size):9.1f}")


if __name__ == "__main__":
    main()
