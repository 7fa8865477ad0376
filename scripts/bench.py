"""Benchmark byline on this machine: ingest speed and memory, warm and cold query latency.

    .venv/bin/python scripts/bench.py                      # the 2,225 BBC articles
    .venv/bin/python scripts/bench.py --synthetic 100000   # plus a synthetic archive of that size
    .venv/bin/python scripts/bench.py --encoders           # encoder speed only: torch, ONNX fp32, int8
    .venv/bin/python scripts/bench.py --workdir DIR --reuse  # query indexes a previous run left in DIR
    .venv/bin/python scripts/bench.py --tokens --model minilm  # where ingest's tokens go; the bare model's rate

`--model NAME` chooses the model of the indexes built (default: byline's default for new indexes).

Ingest runs the real `byline index add` in a subprocess (time, articles/s, chunks/s, tokens/s,
peak RSS, index size). Warm latency runs 200 queries per mode in one process (p50/p95). Warm hybrid
latency is also measured with answers (sentence vectors stored at ingest, or the top articles'
sentences encoded at query time). Cold latency
times whole `byline` commands from a fresh process, as a person at a shell sees them. The
synthetic set recombines BBC paragraphs into new articles. Prints a table and writes
runs/bench-<set>.json; docs/performance.md keeps the latest figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
BYLINE = str(Path(sys.executable).with_name("byline"))
sys.path.insert(0, str(ROOT))


def ingest(corpus: Path, index: Path, model: str | None = None) -> dict:
    """Index a JSONL corpus with the real command; figures from the child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run([BYLINE, "index", "add", str(corpus), "--index", str(index), "--json", "-q",
                          *(["--model", model] if model else [])],
                         check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(out.stdout)
    articles = report["new"] + report["changed"]
    size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    tokens = encoded_tokens(index)
    return {"articles": articles, "chunks": report["chunks"], "seconds": round(seconds, 1),
            "articles_per_s": round(articles / seconds, 1), "chunks_per_s": round(report["chunks"] / seconds, 1),
            "tokens": tokens, "tokens_per_s": round(tokens / seconds),
            "peak_rss_mb": round(after.ru_maxrss / 1024, 0), "cpu_seconds": round(
                after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "index_mb": round(size / 1e6, 1)}


def encoded_tokens(index: Path) -> int:
    """Tokens the model was given for the index's passages (title + text, [CLS] and [SEP]
    included, truncated at its window), counted after the timed run."""
    from index.documents import Chunk
    from index.embedder import Embedder
    from index.layout import IndexPaths
    from index.manifest import load_manifest
    from index.models import model_for_index
    from index.store import ArticleStore

    paths = IndexPaths(index)
    manifest = load_manifest(paths)
    embedder = Embedder(model_for_index(manifest))
    store = ArticleStore(paths.store, manifest.generation, readonly=True)
    window = embedder.info.max_seq_length
    total = 0
    for rows in store.iter_chunks_for_rebuild():
        for _, _, text, _, title, _, _ in rows:
            total += min(window, embedder.count_tokens(Chunk("", 0, text, title).embedding_text()) + 2)
    store.close()
    return total


def reingest(corpus: Path, index: Path) -> float:
    """Time a second `index add` of the same corpus (nothing changed)."""
    started = time.perf_counter()
    subprocess.run([BYLINE, "index", "add", str(corpus), "--index", str(index), "-q"], check=True,
                   capture_output=True)
    return round(time.perf_counter() - started, 2)


def bench_queries(corpus: Path, n: int = 200) -> list[str]:
    """Natural questions from bbc_qa_dev, then article headlines turned into keyword queries."""
    queries = []
    qa = DATA / "bbc_qa_dev" / "queries.jsonl"
    if qa.exists():
        queries += [json.loads(line)["text"] for line in qa.read_text().splitlines() if line.strip()]
    rng = random.Random(0)
    titles = [json.loads(line)["title"] for line in corpus.read_text().splitlines()[:5000] if line.strip()]
    while len(queries) < n:
        queries.append(rng.choice(titles).replace('"', ""))
    return queries[:n]


def warm_latency(index: Path, queries: list[str]) -> dict:
    """p50/p95 in milliseconds per mode, one query at a time in one warm process."""
    from search.retrieval.opened import OpenIndex
    from search.ranking.ranker import Ranker, SearchOptions

    ix = OpenIndex(index)
    figures = {}
    for mode in ("lexical", "semantic", "hybrid"):
        ranker = Ranker(ix, SearchOptions(mode=mode))
        ranker.search(queries[0])  # load the model and open the indexes
        times = []
        for q in queries:
            started = time.perf_counter()
            ranker.search(q)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        figures[mode] = _percentiles(times)
    figures.update(answer_latency(ix, queries))
    figures.update(search_latency(index, queries))
    return figures


def search_latency(index: Path, queries: list[str]) -> dict:
    """A whole `byline search` as users get it (hybrid, story collapse, relevance floor, answers)
    through a warm engine, each query once (the engine has seen none of them)."""
    from search.engine import Engine, SearchRequest

    with Engine(index) as engine:
        engine.search(SearchRequest("warm up the model and the indexes"))
        times = []
        for q in dict.fromkeys(queries):
            started = time.perf_counter()
            engine.search(SearchRequest(q))
            times.append((time.perf_counter() - started) * 1000)
    return {"search (engine, each query once)": _percentiles(times)}


def answer_latency(ix, queries: list[str]) -> dict:
    """Hybrid search plus an answer for each of the 10 results: with the sentence vectors stored
    at ingest, and with the sentences of the 10 articles encoded at query time instead."""
    from search import pipeline
    from search.answering.answers import Answerer
    from search.ranking.ranker import Ranker, SearchOptions
    from search.stories.view import View

    ranker = Ranker(ix, SearchOptions(mode="hybrid"))
    figures = {}
    # Query-time encoding takes seconds a query: 20 queries are enough to see it.
    for label, vectors, n in (("hybrid+answers", "stored", len(queries)),
                              ("hybrid+answers, query-time sentences", "query", 20)):
        answerer = Answerer(ix, vectors=vectors)
        pipeline.run(ranker, queries[:1], View(collapse=False), answerer=answerer)
        times = []
        for q in queries[:n]:
            started = time.perf_counter()
            pipeline.run(ranker, [q], View(collapse=False), answerer=answerer)
            times.append((time.perf_counter() - started) * 1000)
        figures[label] = _percentiles(times)
    return figures


def _percentiles(times: list[float]) -> dict:
    times = sorted(times)
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(len(times) * 0.95) - 1], 1)}


def cold(args: list[str], runs: int = 5) -> float:
    """Median wall time of a whole command, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, capture_output=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 2)


def synthesize(source: Path, target: Path, count: int) -> None:
    """Write `count` articles made of paragraphs drawn from the source corpus."""
    rng = random.Random(42)
    docs = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    paragraphs = [p for d in docs for p in d["text"].split("\n\n") if len(p) > 80]
    with target.open("w") as fh:
        for i in range(count):
            base = rng.choice(docs)
            body = "\n\n".join(rng.sample(paragraphs, rng.randint(3, 8)))
            fh.write(json.dumps({"id": f"syn-{i:06d}", "title": base["title"], "text": body,
                                 "date": f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                                 "source": rng.choice(["Wire A", "Wire B", "Wire C"])}) + "\n")


def run_set(name: str, corpus: Path, workdir: Path, reuse: bool = False, model: str | None = None) -> dict:
    index = workdir / f"{name}-index"
    result = {"set": name, "ingest": None}
    if reuse and index.is_dir():
        print(f"[{name}] reusing {index}; ingest not measured", file=sys.stderr, flush=True)
    else:
        shutil.rmtree(index, ignore_errors=True)
        print(f"[{name}] indexing {corpus} ...", file=sys.stderr, flush=True)
        result["ingest"] = ingest(corpus, index, model)
        result["ingest"]["unchanged_rerun_seconds"] = reingest(corpus, index)
    queries = bench_queries(corpus)
    print(f"[{name}] warm queries ...", file=sys.stderr, flush=True)
    result["warm"] = warm_latency(index, queries)
    env_index = ["--index", str(index)]
    q = "who proposed talks without preconditions"
    result["cold_seconds"] = {
        "byline --help": cold([BYLINE, "--help"]),
        "search --mode lexical": cold([BYLINE, "search", q, "--mode", "lexical", "-o", "ids", *env_index]),
        "search (hybrid)": cold([BYLINE, "search", q, "-o", "ids", *env_index]),
    }
    return result


def encoder_speed(corpus: Path, articles: int = 600, slices: int = 8) -> dict:
    """Passages/s of sentence-transformers (PyTorch, batch 32: the baseline), ONNX fp32 and ONNX
    int8 on the same BBC passages, interleaved slice by slice so machine load hits all alike."""
    from index.chunker import chunk_article
    from index.documents import Article
    from index.embedder import Embedder, resolve_model
    from index.onnx_backend import OnnxEncoder

    info = resolve_model()
    torch_side = Embedder(info, backend="torch")
    docs = [json.loads(line) for line in corpus.read_text().splitlines()[:articles] if line.strip()]
    passages = [c.embedding_text() for d in docs
                for c in chunk_article(Article(id=d["_id"], title=d["title"], text=d["text"]),
                                       count_tokens=torch_side.count_tokens)]
    encoders = {
        "sentence-transformers torch, batch 32": lambda texts: torch_side.model.encode(texts, batch_size=32),
        "onnx fp32": OnnxEncoder(info.path, info.name, info.max_seq_length, int8=False).encode,
        "onnx int8": OnnxEncoder(info.path, info.name, info.max_seq_length, int8=True).encode,
    }
    for encode in encoders.values():
        encode(passages[:32])  # warm up
    seconds = dict.fromkeys(encoders, 0.0)
    step = -(-len(passages) // slices)
    for start in range(0, len(passages), step):
        for name, encode in encoders.items():
            began = time.perf_counter()
            encode(passages[start:start + step])
            seconds[name] += time.perf_counter() - began
    base = len(passages) / seconds[next(iter(encoders))]
    return {"passages": len(passages), "encoders": {
        name: {"passages_per_s": round(len(passages) / s, 1), "speedup": round(len(passages) / s / base, 2)}
        for name, s in seconds.items()}}


def token_budget(corpus: Path, model: str | None, articles: int = 600) -> dict:
    """Where the tokens of ingest go, for the first `articles` of a corpus: the article text once,
    what chunking adds (the title in every passage, the sentence of overlap, [CLS]/[SEP]) and the
    padding of byline's batches; then the machine's limit: the bare int8 model (ONNX Runtime alone,
    no byline code) on fixed batches of 32 passages, and byline's own encoder on these passages."""
    import numpy as np

    from index import sentences
    from index.builder import BATCH_CHUNKS
    from index.chunker import chunk_article
    from index.documents import Article
    from index.embedder import Embedder, resolve_model

    embedder = Embedder(resolve_model(model))
    docs = [json.loads(line) for line in corpus.read_text().splitlines()[:articles] if line.strip()]
    arts = [Article(id=d["_id"], title=d.get("title", ""), text=d["text"]) for d in docs]
    count = embedder.count_tokens
    article_tokens = sum(count(a.title) + count(a.text) for a in arts)
    chunks = [c for a in arts for c in chunk_article(a, count_tokens=count)]
    window = embedder.info.max_seq_length
    lengths = np.array([min(window, count(c.embedding_text()) + 2) for c in chunks])
    titles = sum(count(c.title) for c in chunks if c.title) - sum(count(a.title) for a in arts)
    special = 2 * len(chunks)
    padding = 0
    encoder = embedder._onnx
    batch = encoder.batch_size if encoder is not None else 32
    for start in range(0, len(lengths), BATCH_CHUNKS):  # as index/onnx_backend.py batches a flush
        part = np.sort(lengths[start:start + BATCH_CHUNKS])[::-1]
        for b in range(0, len(part), batch):
            padding += int(part[b] * len(part[b:b + batch]) - part[b:b + batch].sum())
    encoded = int(lengths.sum())
    figures = {"model": embedder.info.name, "articles": len(arts), "passages": len(chunks),
               "article_tokens": article_tokens, "encoded_tokens": encoded,
               "title_repeats": titles, "special": special,
               "overlap": encoded - article_tokens - titles - special, "padding": padding,
               "mean_passage_tokens": round(float(lengths.mean()), 1)}
    if encoder is None:
        return figures
    width = int(round(lengths.mean()))
    feed_all = {"input_ids": np.full((batch, width), 1000, dtype=np.int64),
                "attention_mask": np.ones((batch, width), dtype=np.int64),
                "token_type_ids": np.zeros((batch, width), dtype=np.int64)}
    feed = {name: feed_all[name] for name in encoder.inputs}
    encoder.session.run(None, feed)
    runs = 3
    began = time.perf_counter()
    for _ in range(runs):
        encoder.session.run(None, feed)
    seconds = time.perf_counter() - began
    figures["bare_model"] = {"batch": f"{batch}x{width}", "tokens_per_s": round(runs * batch * width / seconds),
                             "passages_per_s": round(runs * batch / seconds, 1)}
    sample = chunks[:512]
    began = time.perf_counter()
    sentences.encode_passages(embedder, sample, sentences.mode())
    seconds = time.perf_counter() - began
    figures["byline_encoder"] = {"passages": len(sample), "passages_per_s": round(len(sample) / seconds, 1),
                                 "tokens_per_s": round(int(lengths[:len(sample)].sum()) / seconds)}
    return figures


def print_tokens(f: dict) -> None:
    encoded = f["encoded_tokens"]
    print(f"{f['model']}: {f['articles']} articles, {f['passages']} passages "
          f"(mean {f['mean_passage_tokens']} tokens)")
    print(f"  article tokens (title and text once) {f['article_tokens']:,}; encoded {encoded:,} "
          f"({encoded / f['article_tokens']:.2f}x)")
    for key, label in (("title_repeats", "title in every passage after the first"),
                       ("overlap", "sentence overlap"), ("special", "[CLS]/[SEP]"),
                       ("padding", "padding (not in encoded)")):
        print(f"  {label:40s} {f[key]:9,} ({f[key] / encoded:.1%} of encoded)")
    if "bare_model" in f:
        b, e = f["bare_model"], f["byline_encoder"]
        print(f"  bare int8 model, batch {b['batch']}: {b['tokens_per_s']:,} tokens/s ({b['passages_per_s']} passages/s)")
        print(f"  byline's encoder, {e['passages']} passages:  {e['tokens_per_s']:,} tokens/s "
              f"({e['passages_per_s']} passages/s)")


def print_table(result: dict) -> None:
    i, w, c = result["ingest"], result["warm"], result["cold_seconds"]
    print(f"\n{result['set']}:")
    if i:
        print(f"  ingest   {i['articles']} articles, {i['chunks']} chunks in {i['seconds']} s  "
              f"({i['articles_per_s']} articles/s, {i['chunks_per_s']} chunks/s, {i['tokens_per_s']:,} tokens/s), peak RSS "
              f"{i['peak_rss_mb']:.0f} MB, index {i['index_mb']} MB, unchanged re-run {i['unchanged_rerun_seconds']} s")
    for mode, f in w.items():
        print(f"  warm {mode:36s} p50 {f['p50_ms']:7.1f} ms   p95 {f['p95_ms']:7.1f} ms")
    for what, seconds in c.items():
        print(f"  cold {what:22s} {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=0, help="also bench a synthetic archive of N articles")
    parser.add_argument("--skip-bbc", action="store_true")
    parser.add_argument("--encoders", action="store_true", help="only compare the encoders' speed")
    parser.add_argument("--tokens", action="store_true",
                        help="only count where ingest's tokens go and measure the bare model's rate")
    parser.add_argument("--model", metavar="NAME", help="model of the indexes built (default: byline's default)")
    parser.add_argument("--workdir", type=Path, default=None, help="where indexes are built (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true",
                        help="query indexes already in --workdir instead of building them (no ingest figures)")
    args = parser.parse_args()
    bbc = DATA / "bbc_news" / "corpus.jsonl"
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="byline-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
               "backend": os.environ.get("BYLINE_BACKEND", "default"),
               "onnx_int8": os.environ.get("BYLINE_ONNX_INT8", "default"), "model": args.model or "default",
               "load_average": round(os.getloadavg()[0], 2),
               "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    if args.encoders:
        figures = {"machine": machine, **encoder_speed(bbc)}
        for name, f in figures["encoders"].items():
            print(f"  {name:40s} {f['passages_per_s']:6.1f} passages/s  {f['speedup']:.2f}x")
        out = ROOT / "runs" / "bench-encoders.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"  {figures['passages']} passages -> {out}")
        return
    if args.tokens:
        figures = {"machine": machine, **token_budget(bbc, args.model)}
        print_tokens(figures)
        out = ROOT / "runs" / f"bench-tokens-{args.model or 'default'}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"  -> {out}")
        return
    if args.model:
        os.environ["BYLINE_MODEL"] = args.model  # warm queries open the index with its own model anyway
    results = []
    if not args.skip_bbc:
        results.append(run_set("bbc_news", bbc, workdir, args.reuse, args.model))
    if args.synthetic:
        corpus = workdir / f"synthetic-{args.synthetic}.jsonl"
        if not (args.reuse and corpus.is_file()):
            synthesize(bbc, corpus, args.synthetic)
        results.append(run_set(f"synthetic-{args.synthetic}", corpus, workdir, args.reuse, args.model))
    (ROOT / "runs").mkdir(exist_ok=True)
    for result in results:
        print_table(result)
        out = ROOT / "runs" / f"bench-{result['set']}{'-' + args.model if args.model else ''}.json"
        out.write_text(json.dumps({"machine": machine, **result}, indent=2) + "\n")
        print(f"  -> {out}")


if __name__ == "__main__":
    main()
