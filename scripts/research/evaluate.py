"""Question: how good are byline's rankings and answers on BEIR-style test collections?

For each SET (a folder name under ../shared/data/, or any folder path) holding `corpus.jsonl`,
`queries.jsonl` and `qrels.tsv`, this script builds a byline index of the corpus once (cached in
~/.cache/byline-eval/<set>-<max_tokens>-<overlap>-<int8|fp32>/ by the precision that encodes
passages ($BYLINE_ONNX_INT8), with "-<model name>" after it for a --model other than the default,
or under --cache DIR; reused when its
manifest.json exists; the build time is kept beside it in <that folder>.build.json), runs
every judged query through `search.ranking.ranker.Ranker` for each ranking variant, and scores the runs
with ir_measures: nDCG@10, R@100 and RR@10 (MRR@10), with k=100 articles per query.

Sets with an answers.jsonl (bbc_qa_dev, bbc_qa_dev2) also get Answer@1 and Answer@3 overall and
per kind: the first (any of the first three) result is an answering article whose `answer`
matches a judged sentence, judged as ../shared/tools/answer_eval.py does. Indexes are cached
per $BYLINE_SENTENCES (sentence vectors: "-sent" for the default span pooling).

Only queries with at least one judgment in the qrels are evaluated (BEIR convention). Query text
is passed through `sanitize()` in every mode, which removes Whoosh syntax (quotes, parentheses,
field colons, wildcards, boosts, ranges and the AND/OR/NOT operators) so questions are read as
plain bags of words rather than rejected or misparsed.

`--split tune` uses the tuning split (queries_train/qrels_train for SciFact, queries_dev/qrels_dev
for NFCorpus); report figures from `--split test` only, and choose settings on `--split tune`.

Reproduce (from the repository root):

    .venv/bin/python scripts/research/evaluate.py scifact --split test --variants default
    .venv/bin/python scripts/research/evaluate.py nfcorpus --split test --variants default
    .venv/bin/python scripts/research/evaluate.py scifact nfcorpus --split tune --variants fusion
    .venv/bin/python scripts/research/evaluate.py scifact nfcorpus --split tune --variants all   # slow
    .venv/bin/python scripts/research/evaluate.py bbc_qa_dev bbc_qa_dev2 --variants collapse --cache DIR

`--variants collapse` also runs each mode with near-duplicates collapsed as `byline search` does
(search/stories/view.py) and counts the top 10s holding two articles of one cluster; it needs an
index with signatures (an older cached one: copy it under another --cache folder and run
`byline doctor --repair --index` on the copy).

Figures are printed as a table and written to runs/eval-<set>-<split>.json (or --out FILE),
with the embedding backend that encoded the queries (byline picks onnx or torch; $BYLINE_BACKEND)
and the precision of the passage vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import ir_measures
from ir_measures import RR, R, nDCG

from testsets import SANITIZER_NOTE, TestSet, answer_matches, corpus_folder, load_set, read_jsonl, sanitize
from index import sentences
from index.builder import Progress, add_articles, open_writer
from index.chunker import ChunkingParams
from index.documents import Article
from index.embedder import Embedder, resolve_model
from index.models import MINILM_NAME
from index.layout import IndexPaths
from index.manifest import IndexProblem, load_manifest
from search.retrieval.lexical import BM25Params
from search.answering.answers import Answerer, AnswerWeights
from search.retrieval.opened import OpenIndex
from search.ranking.ranker import Ranker, SearchOptions
from search.stories.clusters import Clusters
from search.stories.view import View, present

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path.home() / ".cache" / "byline-eval"
MEASURES = {"nDCG@10": nDCG @ 10, "R@100": R @ 100, "MRR@10": RR @ 10}
K, DEPTH = 100, 300

# --- index -----------------------------------------------------------------------------------

def build_index(folder: Path, index_dir: Path, params: ChunkingParams) -> float | None:
    """Index the corpus into `index_dir` unless already there; returns the seconds spent
    building, or None when the cached index was reused."""
    paths = IndexPaths(index_dir)
    if paths.manifest.exists():
        log(f"reusing index {index_dir}")
        generation = load_manifest(paths).generation
        if not paths.article_lexical(generation).is_dir():
            log("  adding the whole-article index it lacks (a write with no changes builds it)")
            with open_writer(paths, Embedder(resolve_model())):
                pass
        return None
    log(f"building index {index_dir} from {folder / 'corpus.jsonl'}")
    started = last = time.perf_counter()

    def articles() -> Iterator[Article]:
        for doc in read_jsonl(folder / "corpus.jsonl"):
            yield Article(id=str(doc["_id"]), title=doc.get("title") or "", text=doc.get("text") or "",
                          date=doc.get("date"), source=doc.get("source"))

    def on_progress(p: Progress) -> None:
        nonlocal last
        if time.perf_counter() - last >= 15:
            last = time.perf_counter()
            log(f"  {last - started:6.0f} s  {p.articles} articles, {p.chunks} chunks")

    try:
        report = add_articles(paths, articles(), Embedder(resolve_model()), params, on_progress=on_progress)
    except IndexProblem as exc:
        sys.exit(f"evaluate: {exc} (delete the folder to rebuild)")
    log(f"indexed {report.articles} articles as {report.chunks} chunks in {report.seconds:.1f} s")
    build_note(index_dir).write_text(json.dumps({"seconds": round(report.seconds, 1)}) + "\n")
    return report.seconds


def passage_precision() -> str:
    """How new passages are encoded here: "int8" (byline's default with ONNX) or "fp32"."""
    return "int8" if Embedder(resolve_model()).int8_passages else "fp32"


def sentence_suffix() -> str:
    """Indexes with sentence vectors get their own cache name ($BYLINE_SENTENCES): "-sent" for
    span-pooled ones (the default), "-sentown" for sentences encoded alone, none for "off" (the
    caches made before sentence vectors existed)."""
    return {"span": "-sent", "own": "-sentown", "off": ""}[sentences.mode()]


def model_suffix() -> str:
    """Indexes of another model than MiniLM get its name in the cache folder name
    ("-all-mpnet-base-v2"); MiniLM's keep the names they always had."""
    info = resolve_model()
    return "" if info.name == MINILM_NAME else "-" + info.name.rsplit("/", 1)[-1]


def build_note(index_dir: Path) -> Path:
    """Beside the index (not in it): how long the build took, for reports of later runs."""
    return index_dir.with_name(index_dir.name + ".build.json")


def previous_build(index_dir: Path) -> float | None:
    note = build_note(index_dir)
    return json.loads(note.read_text())["seconds"] if note.is_file() else None


def open_index(index_dir: Path) -> OpenIndex:
    """Open the (cached) index, failing early and clearly if this byline cannot read it."""
    try:
        index = OpenIndex(index_dir)
        _ = index.lexical, index.vectors  # open both parts now rather than mid-run
    except IndexProblem as exc:
        sys.exit(f"evaluate: cannot use the cached index: {exc}\n(delete {index_dir} to rebuild it)")
    return index


# --- variants and runs -----------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    name: str
    options: SearchOptions
    collapse: bool = False  # near-duplicates collapsed (search/stories/collapse.py), as `byline search` does


def fusion_name(o: SearchOptions) -> str:
    """Hybrid settings as shown, from the options themselves (the defaults may change):
    w = semantic weight, q = the same for questions, fb = query feedback articles x weight."""
    name = f"hybrid rrf k={o.rrf_k:g}" if o.fusion == "rrf" else f"hybrid {o.fusion}"
    name += f" w={o.semantic_weight:g}"
    if o.question_weight != o.semantic_weight:
        name += f" q={o.question_weight:g}"
    name += f" lex={o.lexical_unit}"
    if o.lexical_confidence:
        name += f" conf={o.lexical_confidence:g}"
    if o.sentence_depth:
        name += f" sent={o.sentence_depth}x{o.sentence_weight:g}" + (f"+lead{o.lead_weight:g}" if o.lead_weight else "")
        if o.lead_weight and o.lead_ramp != SearchOptions.lead_ramp:
            name += f"@ramp{o.lead_ramp:g}"
    if not o.feedback_articles or o.feedback_gate == "off":
        return name + " no-fb"
    gate = {"non-question": "", "strong": f"@strong{o.feedback_strength:g}"}.get(o.feedback_gate, f"@{o.feedback_gate}")
    return name + f" fb={o.feedback_articles}x{o.feedback_weight:g}" + gate


def variants(which: str) -> list[Variant]:
    """The default-options run of each mode; with `fusion` the ranking grid around it; with
    `all` also aggregation, BM25 and depth variants (BM25 and depth retrieve again: slow)."""
    base = SearchOptions(k=K, depth=DEPTH)
    hybrid = replace(base, mode="hybrid")
    out = [Variant(mode, replace(base, mode=mode)) for mode in ("lexical", "semantic")]
    out.append(Variant(fusion_name(hybrid), hybrid))
    if which == "default":
        return out
    if which == "collapse":
        return out + [Variant(f"{v.name} +collapse", v.options, collapse=True) for v in out]
    out += [Variant(f"lexical lex={u}", replace(base, mode="lexical", lexical_unit=u)) for u in ("passage", "both")]
    v1 = replace(hybrid, lexical_unit="passage", feedback_gate="non-question", lexical_confidence=0.0)
    out.append(Variant("v1 default: " + fusion_name(v1), v1))
    grid = [replace(hybrid, lexical_unit=u, feedback_gate=g) for u in ("passage", "article", "both")
            for g in ("off", "non-question", "agree")]
    grid += [replace(hybrid, lexical_confidence=c, feedback_gate=g) for c in (0.2, 0.3, 0.4, 0.5, 0.7)
             for g in ("off", "agree")]
    grid += [replace(hybrid, semantic_weight=w, question_weight=w, feedback_gate=g)
             for w in (0.55, 0.6, 0.7, 0.75, 0.8) for g in ("off", "agree")]
    grid += [replace(hybrid, rrf_k=k) for k in (1, 5, 10)]
    out += [Variant(fusion_name(o), o) for o in grid]
    if which == "report":
        v1 = replace(hybrid, lexical_unit="passage", feedback_gate="non-question", lexical_confidence=0.0,
                     sentence_depth=0, sentence_weight=0.0, lead_weight=0.0, negation_depth=0)
        sem = replace(base, mode="semantic", semantic_evidence=True)
        return out + [Variant("v1 default: " + fusion_name(v1), v1),
                      Variant(f"semantic + sentence evidence (sent={sem.sentence_depth}x{sem.sentence_weight:g}"
                              f"+lead{sem.lead_weight:g})", sem)]
    if which == "final":
        sem = replace(base, mode="semantic")
        pairs = ((0, 0), (0, 0.2), (0.2, 0.2), (0, 0.3), (0.1, 0.3))
        rows = [Variant(f"semantic sent=30x{b:g}+lead{l:g}", replace(sem, sentence_depth=30, sentence_weight=b, lead_weight=l, semantic_evidence=True))
                for b, l in pairs[1:]]
        grid = [replace(hybrid, sentence_depth=30 if (b or l) else 0, sentence_weight=b, lead_weight=l,
                        lexical_confidence=c, feedback_gate=g, lexical_unit=u)
                for b, l in pairs for c in (0.0, 0.15) for g in ("strong", "non-question") for u in ("article", "both")]
        return out[:3] + rows + [Variant(fusion_name(o), o) for o in grid]
    if which == "test":  # what docs/quality.md reports for the test splits
        v1 = replace(hybrid, lexical_unit="passage", feedback_gate="non-question", lexical_confidence=0.0,
                     sentence_depth=0, sentence_weight=0.0, lead_weight=0.0, negation_depth=0)
        every = replace(hybrid, lead_ramp=0.0)
        sem = replace(base, mode="semantic", semantic_evidence=True)
        return out[:3] + [Variant("v1 default: " + fusion_name(v1), v1),
                          Variant("lead in every collection: " + fusion_name(every), every),
                          Variant("semantic + sentence evidence", sem)]
    if which == "refit":  # fusion and feedback around the default, with the lead profile on
        grid = [replace(hybrid, rrf_k=k, semantic_weight=w, question_weight=w) for k in (1, 3, 5) for w in (0.6, 0.65, 0.7)
                if (k, w) != (hybrid.rrf_k, hybrid.semantic_weight)]
        grid += [replace(hybrid, lexical_confidence=c) for c in (0.1, 0.2, 0.3)]
        grid += [replace(hybrid, feedback_strength=t) for t in (0.2, 0.4)]
        grid += [replace(hybrid, sentence_depth=d) for d in (20, 50)]
        return out[:3] + [Variant(fusion_name(o), o) for o in grid]
    if which == "paired":  # the close calls of the second round, for scripts/research/paired.py
        grid = [replace(hybrid, lexical_confidence=0.2),
                replace(hybrid, lexical_confidence=0.3), replace(hybrid, lead_ramp=0.0)]
        return out[:3] + [Variant(fusion_name(o), o) for o in grid]
    if which == "profile":
        sem = replace(base, mode="semantic", semantic_evidence=True)
        grid = [replace(hybrid, lead_ramp=r, sentence_weight=b, lead_weight=l)
                for b, l in ((0.1, 0.3), (0.2, 0.3), (0.1, 0.4)) for r in (0.0, 0.02, 0.03, 0.05)]
        grid += [replace(hybrid, lead_weight=0.0, sentence_weight=b) for b in (0.1, 0.2, 0.3)]
        rows = [Variant(f"semantic + evidence sent=30x0.1+lead0.3@ramp{r:g}", replace(sem, lead_ramp=r)) for r in (0.0, 0.03)]
        return out[:3] + rows + [Variant(fusion_name(o), o) for o in grid]
    if which == "lead":
        sem = replace(base, mode="semantic")
        rows = [Variant(f"semantic sent={d}x{b:g}+lead{l:g}", replace(sem, sentence_depth=d, sentence_weight=b, lead_weight=l, semantic_evidence=True))
                for d in (50,) for b, l in ((0, 0.2), (0, 0.4), (0, 0.6), (0.2, 0.4), (0.2, 0.2))]
        grid = [replace(hybrid, sentence_depth=50, sentence_weight=b, lead_weight=l, lexical_confidence=c,
                        feedback_gate=g, lexical_unit=u)
                for b, l in ((0, 0.2), (0, 0.4), (0, 0.6), (0.2, 0.4)) for c in (0.0, 0.3)
                for g in ("strong", "non-question") for u in ("article", "both")]
        return out[:3] + rows + [Variant(fusion_name(o), o) for o in grid]
    if which == "gate":
        grid = [replace(hybrid, feedback_gate="strong", feedback_strength=t, lexical_confidence=c, lexical_unit=u,
                        semantic_weight=w, question_weight=w, sentence_depth=d, sentence_weight=0.3)
                for t in (0.2, 0.3, 0.4) for c in (0.0, 0.15, 0.3) for u in ("article", "both")
                for w in (0.6, 0.65) for d in (0, 20)]
        grid += [replace(hybrid, feedback_gate="non-question", lexical_unit=u, lexical_confidence=c)
                 for u in ("article", "both", "passage") for c in (0.0, 0.15, 0.3)]
        return out[:3] + [Variant(fusion_name(o), o) for o in grid]
    if which == "sent":
        sem = replace(base, mode="semantic")
        rows = [Variant(f"semantic sent={d}x{w:g}", replace(sem, sentence_depth=d, sentence_weight=w, semantic_evidence=True))
                for d in (20, 50) for w in (0.3, 0.5, 0.7, 1.0)]
        grid = [replace(hybrid, sentence_depth=d, sentence_weight=w, lexical_confidence=c)
                for d in (20, 50) for w in (0.3, 0.5, 0.7) for c in (0.0, 0.3)]
        return out[:3] + rows + [Variant(fusion_name(o), o) for o in grid]
    if which == "new":
        return list({v.name: v for v in reversed(out)}.values())[::-1]
    plain = replace(hybrid, feedback_articles=0, question_weight=hybrid.semantic_weight)
    grid = [replace(hybrid, feedback_articles=0), plain, replace(plain, semantic_weight=0.7, question_weight=0.7)]
    grid += [replace(hybrid, feedback_articles=n, feedback_weight=fw) for n in (1, 2, 3, 5) for fw in (0.3, 0.5, 1.0)]
    grid += [replace(hybrid, question_weight=hybrid.semantic_weight)]
    grid += [replace(hybrid, fusion="rrf", rrf_k=k) for k in (1, 2, 5, 10, 60)]
    grid += [replace(hybrid, fusion="rrf", semantic_weight=w) for w in (0.5, 0.65, 0.7)]
    grid += [replace(hybrid, fusion="convex", semantic_weight=w) for w in (0.5, 0.6, 0.7)]
    out += [Variant(fusion_name(o), o) for o in grid]
    if which == "all":
        out += _slow_variants(base, hybrid)
    return list({v.name: v for v in reversed(out)}.values())[::-1]  # one row per name, first kept


def _slow_variants(base: SearchOptions, hybrid: SearchOptions) -> list[Variant]:
    out = [Variant(f"{mode} decay={d}", replace(base, mode=mode, decay=d))
           for mode in ("lexical", "semantic", "hybrid") for d in (0.0, 0.3, 0.5)]
    out += [Variant(f"lexical bm25 k1={k1} b={b}", replace(base, mode="lexical", bm25=BM25Params(k1, b, title_b=b)))
            for k1 in (0.9, 1.2, 1.5) for b in (0.4, 0.75, 0.9)]
    out += [Variant(f"hybrid depth={d}", replace(hybrid, depth=d)) for d in (50, 100, 300)]
    return out


@dataclass
class Row:
    name: str
    options: dict
    metrics: dict[str, float]
    seconds: float
    same_as: str | None = None
    extra: dict | None = None
    per_query: dict | None = None  # nDCG@10 of each query, for paired tests (scripts/research/paired.py)


def evaluate(index: OpenIndex, test: TestSet, variant: Variant, cache: dict) -> Row:
    """Score one variant. Both retrievers' candidates are computed once per retrieval setting
    (depth, BM25 parameters) and shared by every fusion and aggregation variant over them."""
    clean = {qid: sanitize(text) for qid, text in test.queries.items()}
    ids = [qid for qid, text in clean.items() if text]  # a query left empty finds nothing: scores 0
    texts = [clean[qid] for qid in ids]
    o = variant.options
    started = time.perf_counter()
    retrieval = replace(o, mode="hybrid", k=K, fusion="rrf", rrf_k=0.0, semantic_weight=0.0, decay=0.0,
                        question_weight=0.0, feedback_articles=0, feedback_weight=0.0,
                        lexical_unit="article", feedback_gate="off", lexical_confidence=0.0,
                        sentence_depth=0, sentence_weight=0.0, feedback_strength=0.0, negation_depth=0,
                        lead_weight=0.0, semantic_evidence=False)
    if retrieval not in cache:
        ranker = Ranker(index, retrieval)
        cache[retrieval] = (ranker, ranker.retrieve(texts))
    ranker, candidates = cache[retrieval]
    extra = {}
    if variant.collapse:
        clusters = Clusters(index.store)
        if not clusters.available:
            sys.exit(f"evaluate: {index.paths.root} has no near-duplicate signatures; run "
                     f"byline doctor --repair --index {index.paths.root} on a copy under another --cache")
        answers = [present(ranker, c, K, View(), clusters, o) for c in candidates]
        # No two articles of one cluster in a top 10 (what collapse promises), counted anyway.
        def doubled(rankings) -> int:
            return sum(len({clusters.members([r.article.id])[r.article.id] for r in res[:10]}) < len(res[:10])
                       for res in rankings)

        extra["top10_with_two_of_a_cluster"] = doubled(answers)
        extra["the same without collapse"] = doubled([ranker.rank(c, o) for c in candidates])
    else:
        answers = [ranker.rank(c, o) for c in candidates]
    if test.answers:
        answerer = cache.setdefault("answerer", Answerer(index, ANSWER_WEIGHTS[cache["answer_weights"]],
                                                         vectors=cache["answer_vectors"]))
        for qid, c, results in zip(ids, candidates, answers):
            answerer.attach(test.queries[qid], c.vector if o.mode != "lexical" else None, results, ANSWER_DEPTH)
    seconds = time.perf_counter() - started
    # Scores from ranks keep byline's order (and its tie-breaks) in the evaluation tools.
    run = {qid: {r.article.id: 1.0 / r.rank for r in results} for qid, results in zip(ids, answers)}
    # ir_measures scores a judged query missing from the run as 0, as it should.
    scores = ir_measures.calc_aggregate(list(MEASURES.values()), test.qrels, run)
    metrics = {label: float(scores[m]) for label, m in MEASURES.items()}
    for kind in sorted(set((test.kinds or {}).values())):
        ids_of = {q for q, k in test.kinds.items() if k == kind}
        part = ir_measures.calc_aggregate([nDCG @ 10], {q: test.qrels[q] for q in ids_of},
                                          {q: r for q, r in run.items() if q in ids_of})
        metrics[f"nDCG@10 {kind}"] = float(part[nDCG @ 10])
    if variant.collapse:
        # Copies judged alike: an article in a relevant one's cluster gets its grade.
        alike = cluster_qrels(test.qrels, Clusters(index.store))
        extra["nDCG@10 copies judged alike"] = float(ir_measures.calc_aggregate([nDCG @ 10], alike, run)[nDCG @ 10])
        log(f"  {variant.name}: {extra}")
    if test.answers:
        metrics.update(answer_scores(test, dict(zip(ids, answers))))
    per_query = {qid: 0.0 for qid in test.qrels}
    per_query.update({m.query_id: float(m.value) for m in ir_measures.iter_calc([nDCG @ 10], test.qrels, run)})
    return Row(variant.name, asdict(o), metrics, seconds, extra=extra or None, per_query=per_query)


def cluster_qrels(qrels: dict[str, dict[str, int]], clusters: Clusters) -> dict[str, dict[str, int]]:
    """The judgments with every near-duplicate of a judged article judged the same."""
    out = {}
    for qid, docs in qrels.items():
        alike = dict(docs)
        for doc, grade in docs.items():
            for other in clusters.members([doc])[doc]:
                alike[other] = max(alike.get(other, 0), grade)
        out[qid] = alike
    return out


ANSWER_DEPTH = 3
ANSWER_WEIGHTS = {"default": AnswerWeights(),
                  "lead": AnswerWeights(semantic=0, lexical=0, lead=1, second=0, cue=0, threshold=-9),
                  "join": AnswerWeights(join_margin=0.5)}  # docs/quality.md, "Answers": measured, off


def answer_scores(test: TestSet, ranked: dict[str, list]) -> dict[str, float]:
    """Answer@1 and Answer@3 as ../shared/tools/answer_eval.py computes them (the result is an
    answering article and its answer matches a judged sentence), overall and per kind."""
    groups: dict[str, list[tuple[bool, bool]]] = {}
    for qid, gold in test.answers.items():
        ok = [r.article.id in gold and r.answer is not None
              and any(answer_matches(r.answer.text, g) for g in gold[r.article.id])
              for r in ranked.get(qid, [])[:ANSWER_DEPTH]]
        top = ranked.get(qid, [])[:1]
        right_article = bool(top) and top[0].article.id in gold
        for group in ("", f" {test.kinds[qid]}" if qid in test.kinds else None):
            if group is not None:
                groups.setdefault(group, []).append((bool(ok and ok[0]), any(ok), right_article))
    out = {}
    for group, hits in sorted(groups.items()):
        out[f"Answer@1{group}"] = sum(h[0] for h in hits) / len(hits)
        out[f"Answer@{ANSWER_DEPTH}{group}"] = sum(h[1] for h in hits) / len(hits)
        out[f"P@1{group}"] = sum(h[2] for h in hits) / len(hits)  # the ceiling of Answer@1
    return out


def run_set(spec: str, args: argparse.Namespace, chosen: list[Variant] | None = None) -> dict:
    """Evaluate the variants of `args.variants` (or those `chosen`) on one set."""
    test = load_set(spec, args.split, args.limit_queries)
    params = ChunkingParams(max_tokens=args.max_tokens, overlap_sentences=args.overlap)
    corpus = corpus_folder(test.folder)
    precision = passage_precision()
    index_dir = (args.cache.expanduser() /
                 f"{corpus.name}-{params.max_tokens}-{params.overlap_sentences}-{precision}{sentence_suffix()}{model_suffix()}")
    log(f"{test.name} ({test.split}): {len(test.queries)} judged queries from {test.queries_file.name}")
    build_seconds = build_index(corpus, index_dir, params)
    index = open_index(index_dir)
    rows: list[Row] = []
    done: dict[tuple[SearchOptions, bool], Row] = {}
    candidates: dict = {"answer_vectors": args.answer_vectors, "answer_weights": args.answer_weights}
    for variant in chosen or variants(args.variants):
        key = (variant.options, variant.collapse)
        if key in done:  # e.g. the grid point equal to the default hybrid
            first = done[key]
            rows.append(Row(variant.name, first.options, first.metrics, 0.0, same_as=first.name,
                            per_query=first.per_query))
            continue
        row = evaluate(index, test, variant, candidates)
        done[key] = row
        rows.append(row)
        log(f"  {row.name:<28} " + "  ".join(f"{k} {v:.4f}" for k, v in row.metrics.items())
            + f"  ({row.seconds:.1f} s)")
    index.close()
    return {
        "set": test.name, "data": str(test.folder), "split": test.split,
        "queries_file": test.queries_file.name, "qrels_file": test.qrels_file.name,
        "queries": len(test.queries), "limit_queries": args.limit_queries,
        "index": str(index_dir), "index_reused": build_seconds is None,
        "index_build_seconds": round(build_seconds, 1) if build_seconds is not None else previous_build(index_dir),
        "articles": index.manifest.articles, "chunks": index.manifest.chunks,
        "model": index.manifest.model_name, "chunking": index.manifest.chunking,
        "embedding_backend": index.embedder.query_backend,  # of the queries (onnx/torch)
        "passage_vectors": precision,
        "answer_vectors": args.answer_vectors if test.answers else None,
        "answer_weights": args.answer_weights if test.answers else None,
        "k": K, "sanitizer": SANITIZER_NOTE, "measures": list(MEASURES),
        "timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "variants": [asdict(r) for r in rows],
    }


# --- output ----------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    seconds = report["index_build_seconds"]
    build = f"{seconds:.0f} s" if seconds is not None else "unknown"
    console = Console(highlight=False)
    chunking = report["chunking"]
    console.print(f"[bold]{report['set']}[/bold] ({report['split']} split, {report['queries']} queries): "
                  f"index built in {build}{' (cached)' if report['index_reused'] else ''}\n"
                  f"{report['articles']} articles, {report['chunks']} chunks of <= {chunking['max_tokens']} "
                  f"tokens, overlap {chunking['overlap_sentences']} sentence(s)")
    table = Table()
    table.add_column("variant")
    labels = list(report["variants"][0]["metrics"]) if report["variants"] else list(MEASURES)
    for label in labels:
        table.add_column(label.replace("nDCG@10 ", ""), justify="right")
    table.add_column("seconds", justify="right")
    for row in report["variants"]:
        secs = "same" if row["same_as"] else f"{row['seconds']:.1f}"
        table.add_row(row["name"], *(f"{row['metrics'][m]:.4f}" for m in labels), secs)
    console.print(table)
    console.print(f"k={report['k']} articles per query; {report['sanitizer']}; \"same\": the options of "
                  "an earlier row, not rerun", style="dim")
    answer_labels = [m for m in (report["variants"][0]["metrics"] if report["variants"] else {})
                     if m.startswith(("Answer@", "P@1"))]
    if answer_labels:
        wide = Console(highlight=False, width=max(console.width, 150))
        answers = Table(title=f"answers ({report.get('answer_weights')} weights, sentence vectors: "
                              f"{report.get('answer_vectors')})")
        answers.add_column("variant")
        for label in answer_labels:
            answers.add_column(label.replace(" ", "\n"), justify="right")
        for row in report["variants"]:
            answers.add_row(row["name"], *(f"{row['metrics'][m]:.3f}" for m in answer_labels))
        wide.print(answers)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", metavar="SET", help="name under ../shared/data/ or a folder path")
    parser.add_argument("--split", choices=("test", "tune"), default="test")
    parser.add_argument("--variants", choices=("default", "report", "new", "sent", "gate", "lead", "profile", "test", "refit", "paired", "final", "collapse", "fusion", "all"), default="default",
                        help="default settings only; the new ranking grid; those also with near-duplicates collapsed (needs an "
                             "index with signatures); the fusion/feedback grid; or that plus aggregation, "
                             "BM25 and depth (slow: each retrieves again)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                        help=f"folder holding the cached indexes [default: {DEFAULT_CACHE}]")
    parser.add_argument("--out", type=Path, metavar="FILE.json",
                        help="JSON report [default: runs/eval-<set>-<split>.json]; one SET only")
    parser.add_argument("--limit-queries", type=int, metavar="N", help="evaluate only the first N judged queries")
    parser.add_argument("--answer-vectors", choices=("stored", "query", "none"), default="stored",
                        help="sentence vectors answers are scored with (sets with answers.jsonl): those stored "
                             "at ingest, sentences encoded alone at query time, or none (words, place, cues)")
    parser.add_argument("--answer-weights", choices=tuple(ANSWER_WEIGHTS), default="default",
                        help="how answers are chosen: byline's tuned weights, the baseline that always "
                             "answers with the article's first sentence, or the default joining a close "
                             "neighbour of about the same length (join_margin 0.5)")
    parser.add_argument("--model", metavar="FOLDER",
                        help="the embedding model (a sentence-transformers folder) to build and search with "
                             "[default: $BYLINE_MODEL, else byline's default]; its name is in the cache folder name")
    parser.add_argument("--max-tokens", type=int, default=200, help="passage size of new indexes")
    parser.add_argument("--overlap", type=int, default=1, help="sentence overlap of new indexes")
    args = parser.parse_args(argv)
    if args.out and len(args.sets) > 1:
        parser.error("--out needs a single SET (each set gets its own report)")
    if args.model:  # every resolve_model() of this run (builder, OpenIndex) reads it
        os.environ["BYLINE_MODEL"] = args.model

    for spec in args.sets:
        report = run_set(spec, args)
        print_table(report)
        out = args.out or ROOT / "runs" / f"eval-{report['set']}-{report['split']}{model_suffix()}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {out}")


if __name__ == "__main__":
    main()
