"""Question: is the difference between two variants of evaluate.py reports more than noise? (a paired randomisation test)

Every query of every report given counts once (nDCG@10 per query, stored by evaluate.py); the
test flips the sign of each query's difference at random and counts how often the mean
difference is at least as large as the one measured (two-sided).

    .venv/bin/python scripts/research/paired.py runs/eval-scifact-tune.json runs/eval-nfcorpus-tune.json \\
        --a "hybrid rrf k=2 ..." --b "hybrid rrf k=2 ... agree=0.4/10 ..."

Without --a/--b it lists the variant names the reports share.
"""

from __future__ import annotations

import argparse
import json
import random
import sys


def per_query(report: dict, name: str) -> dict[str, float]:
    for v in report["variants"]:
        if v["name"] == name:
            if not v.get("per_query"):
                sys.exit(f"paired: {report['set']}: variant {name!r} has no per-query scores (re-run evaluate.py)")
            return v["per_query"]
    sys.exit(f"paired: {report['set']}: no variant named {name!r}")


def randomisation(diffs: list[float], rounds: int = 20000, seed: int = 1) -> float:
    observed = abs(sum(diffs))
    rng = random.Random(seed)
    hits = sum(abs(sum(d if rng.random() < 0.5 else -d for d in diffs)) >= observed - 1e-12 for _ in range(rounds))
    return (hits + 1) / (rounds + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reports", nargs="+")
    parser.add_argument("--a", help="the baseline variant's name")
    parser.add_argument("--b", help="the variant compared with it")
    args = parser.parse_args()
    reports = [json.load(open(path, encoding="utf-8")) for path in args.reports]
    if not (args.a and args.b):
        shared = set.intersection(*({v["name"] for v in r["variants"]} for r in reports))
        print("\n".join(sorted(shared)))
        return 0
    pooled = []
    for r in reports:
        a, b = per_query(r, args.a), per_query(r, args.b)
        diffs = [b[q] - a[q] for q in a]
        pooled += diffs
        wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
        print(f"{r['set']:12s} {len(diffs):4d} q  mean diff {sum(diffs) / len(diffs):+.4f}  better {wins:3d}  worse {losses:3d}"
              f"  p={randomisation(diffs):.3f}")
    wins, losses = sum(d > 0 for d in pooled), sum(d < 0 for d in pooled)
    print(f"{'all':12s} {len(pooled):4d} q  mean diff {sum(pooled) / len(pooled):+.4f}  better {wins:3d}  worse {losses:3d}"
          f"  p={randomisation(pooled):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
