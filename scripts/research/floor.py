"""Calibrate the relevance floor (search/ranking/floor.py) and print its figures.

For each judged set, the top 10 results of every query (hybrid and semantic, as `byline search`
ranks them, copies collapsed) with each result's evidence (its idf-weighted share of the query's
words and its best sentence/passage cosine); for the off-topic queries
(scripts/research/offtopic_queries.txt) the same on the BBC index. Then, for a grid of levels:
the share of judged-relevant top-10 articles the floor would drop, the share of off-topic queries
left with no article, and the change in nDCG@10 (linear gains, as ir_measures' nDCG@10).

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 .venv/bin/python scripts/research/floor.py \
        --index bbc_qa_dev=~/.cache/byline-eval/bbc_news-200-1-int8-sent \
        --index bbc_qa_dev2=~/.cache/byline-eval/bbc_news-200-1-int8-sent \
        --index scifact=~/.cache/byline-eval/scifact-200-1-int8-sent --offtopic-index bbc_qa_dev

Evidence is cached in --features (JSON) so the grid can be re-run without the model.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
OFFTOPIC = Path(__file__).with_name("offtopic_queries.txt")
MODES = ("hybrid", "semantic")
K = 10


def read_set(name: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    folder = DATA / name
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {}
    for line in open(folder / "queries.jsonl", encoding="utf-8"):
        if line.strip():
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries[str(q["_id"])] = q["text"]
    return queries, qrels


def offtopic_queries() -> dict[str, str]:
    lines = [l.strip() for l in OFFTOPIC.read_text("utf-8").splitlines()]
    return {f"off{i:03d}": l for i, l in enumerate((l for l in lines if l and not l.startswith("#")), 1)}


def collect(index_dir: Path, queries: dict[str, str], model: str | None = None) -> dict:
    """{mode: {qid: [[article_id, words, meaning], ...]}} for the top K of each query."""
    from search.ranking.floor import Floor
    from search.ranking.ranker import Ranker, SearchOptions
    from search.retrieval.opened import OpenIndex
    from search.stories.clusters import Clusters
    from search.stories.view import View, present

    index = OpenIndex(index_dir, model)
    out: dict = {}
    view = View()
    clusters = Clusters(index.store)
    floor = Floor(index)
    for mode in MODES:
        ranker = Ranker(index, SearchOptions(mode=mode, k=K))
        qids = list(queries)
        ranked = ranker.search_deep([queries[q] for q in qids], lambda c: present(ranker, c, K, view, clusters))
        rows = {}
        for qid, (cand, results) in zip(qids, ranked):
            ids = [r.article.id for r in results]
            ev = floor.evidence(cand.terms, cand.vector, ids)
            rows[qid] = [[r.article.id, round(ev[r.article.id].words, 4), round(ev[r.article.id].meaning, 4),
                          r.lexical_rank, r.semantic_rank] for r in results]
        out[mode] = rows
    index.close()
    return out


def through_engine(index_dir: Path, queries: dict[str, str], model: str | None = None) -> dict:
    """How many off-topic queries `byline search` answers with no article, floor and typo
    correction included (the engine's defaults), per mode."""
    from search.engine import Engine, SearchRequest

    engine = Engine(index_dir, model)
    out = {}
    for mode in MODES:
        empty, corrected = 0, []
        for text in queries.values():
            response = engine.search(SearchRequest(text, k=K, mode=mode))
            empty += not response.results
            if response.extra.get("corrected"):
                corrected.append(f"{text} -> {response.extra['suggestion']}")
        out[mode] = {"queries": len(queries), "no_article": empty, "corrected": corrected}
    engine.close()
    return out


def timing(index_dir: Path, queries: list[str], model: str | None = None) -> dict:
    """Median milliseconds of a warm `byline search` (engine, k 10, answers on) with the floor
    and without, and of a spelling check, over `queries`, per mode."""
    import statistics
    import time

    from search.engine import Engine, SearchRequest
    from search.retrieval import spelling

    engine = Engine(index_dir, model)
    engine.warm()
    out = {}
    for mode in MODES:
        for floor in (False, True):
            spent = []
            for text in queries:
                started = time.perf_counter()
                engine.search(SearchRequest(text, k=K, mode=mode, floor=floor))
                spent.append(time.perf_counter() - started)
            out[f"{mode} floor={'on' if floor else 'off'}"] = statistics.median(spent) * 1000
    spent = []
    for text in queries:
        started = time.perf_counter()
        spelling.suggest(engine.index, text)
        spent.append(time.perf_counter() - started)
    out["spelling check"] = statistics.median(spent) * 1000
    from search.ranking.floor import Floor
    from search.ranking.ranker import Ranker, SearchOptions

    ranker = Ranker(engine.index, SearchOptions(k=K))
    spent = []
    floor = Floor(engine.index)
    for c, results in ranker.search_deep(queries, ranker.rank):
        started = time.perf_counter()
        floor.keep(c.terms, c.vector, results)
        spent.append(time.perf_counter() - started)
    out["floor alone (top 10, hybrid)"] = statistics.median(spent) * 1000
    engine.close()
    return out


def ndcg(ranking: list[str], rels: dict[str, int]) -> float:
    dcg = sum(rels.get(a, 0) / math.log2(i + 2) for i, a in enumerate(ranking[:K]))
    ideal = sorted(rels.values(), reverse=True)[:K]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def figures(features: dict, sets: list[str], words: float, meaning: float) -> dict:
    def passes(row) -> bool:
        return row[1] >= words or row[2] >= meaning

    out = {}
    for name in sets:
        if name not in features:
            continue
        _, qrels = read_set(name)
        for mode in MODES:
            runs = features[name][mode]
            judged = dropped = 0
            before = after = 0.0
            for qid, rows in runs.items():
                rels = qrels.get(qid, {})
                for row in rows:
                    if row[0] in rels:
                        judged += 1
                        dropped += not passes(row)
                before += ndcg([r[0] for r in rows], rels)
                after += ndcg([r[0] for r in rows if passes(r)], rels)
            n = len(runs)
            out[f"{name}/{mode}"] = {"relevant_top10": judged, "dropped": dropped,
                                     "dropped_share": dropped / judged if judged else 0.0,
                                     "ndcg_before": before / n, "ndcg_after": after / n,
                                     "ndcg_change": (after - before) / n}
    if "offtopic" in features:
        for mode in MODES:
            runs = features["offtopic"][mode]
            empty = sum(not any(passes(r) for r in rows) for rows in runs.values())
            listed = sum(sum(passes(r) for r in rows) for rows in runs.values())
            out[f"offtopic/{mode}"] = {"queries": len(runs), "no_article": empty,
                                       "no_article_share": empty / len(runs), "articles_listed": listed}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", action="append", default=[], metavar="SET=DIR",
                        help="a judged set (folder name under shared/data) and its index")
    parser.add_argument("--offtopic-index", metavar="SET", help="run the off-topic queries on this set's index")
    parser.add_argument("--features", type=Path, default=Path("/tmp/byline-floor-features.json"))
    parser.add_argument("--reuse", action="store_true", help="read --features instead of searching")
    parser.add_argument("--model", help="the model folder the indexes were built with (default: MiniLM)")
    parser.add_argument("--timing", metavar="SET", help="time the engine with and without the floor on this "
                        "set's queries and index")
    parser.add_argument("--engine", action="store_true",
                        help="also run the off-topic queries through the engine with its default floor")
    parser.add_argument("--words", type=float, nargs="*", default=[0.5, 0.6, 0.67, 0.75, 0.8, 0.9, 1.01])
    parser.add_argument("--meaning", type=float, nargs="*",
                        default=[0.3, 0.35, 0.4, 0.42, 0.45, 0.48, 0.5, 0.55])
    args = parser.parse_args(argv)

    pairs = dict(spec.split("=", 1) for spec in args.index)
    if args.reuse:
        features = json.loads(args.features.read_text())
    else:
        features = {}
        for name, folder in pairs.items():
            print(f"searching {name} on {folder}", file=sys.stderr, flush=True)
            features[name] = collect(Path(folder).expanduser(), read_set(name)[0], args.model)
        if args.offtopic_index:
            print("searching the off-topic queries", file=sys.stderr, flush=True)
            features["offtopic"] = collect(Path(pairs[args.offtopic_index]).expanduser(), offtopic_queries(),
                                           args.model)
        args.features.write_text(json.dumps(features))
    sets = [s for s in features if s != "offtopic"]
    print(f"{'words':>6} {'meaning':>7}  " + "  ".join(f"{s[:14]:>14}" for s in
          [f"{n}/{m[:3]}" for n in sets for m in MODES] + [f"off/{m[:3]}" for m in MODES]))
    for w in args.words:
        for m in args.meaning:
            f = figures(features, sets, w, m)
            cells = [f"{f[f'{n}/{mode}']['dropped_share']:5.3f} {f[f'{n}/{mode}']['ndcg_change']:+.4f}"
                     for n in sets for mode in MODES]
            cells += [f"{f[f'offtopic/{mode}']['no_article_share']:14.3f}" for mode in MODES
                      if f"offtopic/{mode}" in f]
            print(f"{w:6.2f} {m:7.2f}  " + "  ".join(f"{c:>14}" for c in cells))
    print("cells: share of judged-relevant top-10 articles dropped, nDCG@10 change; off: share of "
          "off-topic queries with no article")
    if args.timing:
        queries = list(read_set(args.timing)[0].values())
        for name, ms in timing(Path(pairs[args.timing]).expanduser(), queries, args.model).items():
            print(f"  {name}: {ms:.1f} ms median over {len(queries)} queries")
    if args.engine and args.offtopic_index:
        from search.ranking.floor import FloorParams

        print(f"\nthrough the engine ({FloorParams()}, typo correction on):")
        found = through_engine(Path(pairs[args.offtopic_index]).expanduser(), offtopic_queries(), args.model)
        for mode, row in found.items():
            print(f"  {mode}: {row['no_article']}/{row['queries']} off-topic queries with no article; "
                  f"shown corrected: {row['corrected'] or 'none'}")


if __name__ == "__main__":
    main()
