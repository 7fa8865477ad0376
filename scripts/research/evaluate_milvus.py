"""Question: does the Milvus backend rank as well and as fast as the local one? (docs/scale-out.md)

For each test set, two indexes of its corpus are built once under
~/.cache/byline-eval-milvus/ (or --cache DIR): a local one (Whoosh + FAISS) and a Milvus one
(milvus-lite, the Milvus engine). The Milvus index is ingested for real with --ingest (for the
ingest time; BBC News by default), else made from a copy of the local index's article store
(the same passages and vectors; `doctor --repair` does the same sync), which saves the embedding
time. Both are searched with the same SearchOptions, scored as scripts/research/evaluate.py scores
(imported from it: load_set, sanitize, MEASURES, answer_scores), and on the Milvus index also:

- `milvus grouped`: both passage searches with group_by_field="article_id" (depth counts articles);
- `engine rrf`: the engine's own hybrid_search with RRFRanker(60), one hit per article;
- `engine weighted`: hybrid_search with WeightedRanker(0.35, 0.65) (byline's semantic share).

Warm query latency: the median and 90th percentile of one `search.pipeline.run` per query (the
search command's work after start-up: retrieve, rank, collapse, answers), after one warm-up.

    PYTHONPATH=. .venv/bin/python scripts/research/evaluate_milvus.py bbc_qa_dev bbc_qa_dev2 scifact nfcorpus
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import ir_measures

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import MEASURES, answer_scores  # noqa: E402
from testsets import corpus_folder, load_set, read_jsonl, sanitize  # noqa: E402

from index.builder import Backend, add_articles, open_writer  # noqa: E402
from index.chunker import ChunkingParams  # noqa: E402
from index.documents import Article  # noqa: E402
from index.embedder import Embedder, resolve_model  # noqa: E402
from index.layout import IndexPaths  # noqa: E402
from index.manifest import load_manifest, save_manifest  # noqa: E402
from search.retrieval import milvus as milvus_retrieval  # noqa: E402
from search import pipeline
from search.answering.answers import Answerer  # noqa: E402
from search.retrieval.opened import OpenIndex  # noqa: E402
from search.ranking.ranker import Ranker, SearchOptions  # noqa: E402

DEFAULT_CACHE = Path.home() / ".cache" / "byline-eval-milvus"
K, DEPTH = 100, 300  # as scripts/research/evaluate.py
LATENCY_QUERIES = 40


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def articles(corpus: Path):
    for doc in read_jsonl(corpus / "corpus.jsonl"):
        yield Article(id=str(doc["_id"]), title=doc.get("title") or "", text=doc.get("text") or "",
                      date=doc.get("date"), source=doc.get("source"))


def build(corpus: Path, folder: Path, backend: Backend | None, embedder: Embedder) -> float | None:
    """Index the corpus into `folder` unless there; seconds spent, or None when reused."""
    note = folder.parent / f"{folder.name}.seconds"
    if (folder / "manifest.json").exists():
        return json.loads(note.read_text()) if note.exists() else None
    log(f"building {folder} ({backend.name if backend else 'local'})")
    report = add_articles(IndexPaths(folder), articles(corpus), embedder, ChunkingParams(), backend=backend)
    note.write_text(json.dumps(round(report.seconds, 1)))
    log(f"  {report.articles} articles, {report.chunks} chunks in {report.seconds:.1f} s")
    return report.seconds


def convert(local: Path, folder: Path, uri: str, embedder: Embedder) -> float:
    """A Milvus index from a copy of a local one: the store is copied, the manifest names the
    Milvus backend, and a repair-style write syncs the collections from the store."""
    note = folder.parent / f"{folder.name}.seconds"
    if (folder / "manifest.json").exists():
        return json.loads(note.read_text())
    log(f"converting {local} into {folder}")
    started = time.perf_counter()
    shutil.copytree(local, folder)
    paths = IndexPaths(folder)
    m = load_manifest(paths)
    m.backend, m.milvus_uri, m.milvus_collection = "milvus", uri, f"byline_{folder.name.replace('-', '_')}"
    save_manifest(paths, m)
    with open_writer(paths, embedder, fresh=True) as writer:
        writer.rebuild_derived()
    seconds = time.perf_counter() - started
    note.write_text(json.dumps(round(seconds, 1)))
    return seconds


def score(test, ids: list[str], rankings: list[list[str]]) -> dict[str, float]:
    run = {qid: {a: 1.0 / r for r, a in enumerate(ranking, start=1)} for qid, ranking in zip(ids, rankings)}
    agg = ir_measures.calc_aggregate(list(MEASURES.values()), test.qrels, run)
    return {label: round(float(agg[m]), 4) for label, m in MEASURES.items()}


def byline_rows(index: OpenIndex, test, ids, texts, group: bool = False, prefix: str = "") -> dict:
    """byline's ranking (hybrid, lexical, semantic) over this index's candidates."""
    o = SearchOptions(k=K, depth=DEPTH)
    ranker = Ranker(index, o)
    started = time.perf_counter()
    if group:
        candidates = ranker.read(texts, ranker.retriever.candidates(texts, DEPTH, group=True))
    else:
        candidates = ranker.retrieve(texts)
    retrieve_s = time.perf_counter() - started
    rows = {}
    for mode in ("hybrid", "lexical", "semantic"):
        ranked = [ranker.rank(c, replace(o, mode=mode)) for c in candidates]
        metrics = score(test, ids, [[r.article.id for r in res] for res in ranked])
        if mode == "hybrid" and test.answers:
            answerer = Answerer(index)
            for qid, c, res in zip(ids, candidates, ranked):
                answerer.attach(test.queries[qid], c.vector, res, 3)
            metrics.update({k: round(v, 4) for k, v in answer_scores(test, dict(zip(ids, ranked))).items()
                            if k in ("Answer@1", "Answer@3", "P@1")})
        rows[f"{prefix}{mode}"] = metrics
    rows[f"{prefix}hybrid"]["retrieve_seconds"] = round(retrieve_s, 1)
    return rows


def engine_rows(index: OpenIndex, test, ids, texts) -> dict:
    matrix = index.embedder.encode_queries(texts)
    rows = {}
    for name, kind in (("engine rrf", "rrf"), ("engine weighted", "weighted")):
        rankings = milvus_retrieval.engine_hybrid(index, texts, matrix, K, ranker=kind)
        rows[name] = score(test, ids, [[a for a, _ in r] for r in rankings])
    return rows


def latency(index: OpenIndex, texts: list[str], mode: str) -> dict:
    ranker = Ranker(index, SearchOptions(mode=mode))
    pipeline.run(ranker, texts[:1])  # warm-up: model, files, engine
    times = []
    for text in texts[:LATENCY_QUERIES]:
        started = time.perf_counter()
        pipeline.run(ranker, [text])
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return {"median_ms": round(statistics.median(times), 1), "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1)}


def run_set(spec: str, args, embedder: Embedder) -> dict:
    test = load_set(spec, "test", None)
    corpus = corpus_folder(test.folder)
    cache = args.cache.expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    local_dir, milvus_dir = cache / f"{corpus.name}-local", cache / f"{corpus.name}-milvus"
    uri = str(cache / f"{corpus.name}.db")
    os.environ["BYLINE_MILVUS_URI"] = uri  # outside the index folder: given by us, as a user would
    local_s = build(corpus, local_dir, None, embedder)
    if corpus.name in args.ingest:
        milvus_s = build(corpus, milvus_dir, Backend("milvus", uri), embedder)
        how = "ingested"
    else:
        milvus_s = convert(local_dir, milvus_dir, uri, embedder)
        how = "synced from a copy of the local store"
    clean = {qid: sanitize(t) for qid, t in test.queries.items()}
    ids = [q for q, t in clean.items() if t]
    texts = [clean[q] for q in ids]
    log(f"{test.name}: {len(ids)} queries")
    local, milvus = OpenIndex(local_dir), OpenIndex(milvus_dir)
    rows = {f"local {k}": v for k, v in byline_rows(local, test, ids, texts).items()}
    rows.update(byline_rows(milvus, test, ids, texts, prefix="milvus "))
    rows.update(byline_rows(milvus, test, ids, texts, group=True, prefix="milvus grouped "))
    rows.update(engine_rows(milvus, test, ids, texts))
    for name, row in rows.items():
        log(f"  {name:<26} " + "  ".join(f"{k} {v}" for k, v in row.items()))
    speed = {}
    if args.latency:
        for backend, index in (("local", local), ("milvus", milvus)):
            for mode in ("hybrid", "lexical"):
                speed[f"{backend} {mode}"] = latency(index, texts, mode)
                log(f"  latency {backend} {mode}: {speed[f'{backend} {mode}']}")
    out = {"set": test.name, "queries": len(ids), "corpus": corpus.name,
           "articles": local.manifest.articles, "chunks": local.manifest.chunks,
           "local_build_seconds": local_s, "milvus_build_seconds": milvus_s, "milvus_build": how,
           "rows": rows, "latency": speed}
    local.close()
    milvus.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", help="test sets: bbc_qa_dev bbc_qa_dev2 scifact nfcorpus")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--ingest", nargs="*", default=["bbc_news"],
                        help="corpora whose Milvus index is ingested for real [default: bbc_news]")
    parser.add_argument("--latency", action="store_true", help="also measure warm query latency")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    embedder = Embedder(resolve_model())
    reports = [run_set(spec, args, embedder) for spec in args.sets]
    text = json.dumps(reports, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
