"""Question: how well does near-duplicate clustering find rewritten BBC articles, and at what cost?

    .venv/bin/python scripts/research/near_duplicates.py quality            # precision/recall, threshold sweep
    .venv/bin/python scripts/research/near_duplicates.py cost --synthetic 10000
    .venv/bin/python scripts/research/near_duplicates.py latency --index INDEX   # an index of bbc_news

`quality` rewrites a sample of BBC articles the way syndication does (a new headline, a changed
lead sentence, an agency dateline and boilerplate, paragraphs dropped or reordered, the story cut
short) at three strengths, adds the copies to the 2,225 BBC articles, and clusters everything
through byline's own code: signatures written by index/dedup.py into a real article store,
clusters found by search/stories/clusters.py. A clustered pair is correct when both articles are copies
of one original, or are a pair in bbc_news/duplicates.tsv (exact duplicates). It prints pair
precision and recall for each Jaccard threshold, checks that every duplicates.tsv pair lands in
one cluster, and lists the clustered BBC pairs that duplicates.tsv does not name (to read by hand).

`cost` times the signature and its store rows per article, without embedding, on BBC and on the
synthetic archive that scripts/bench.py generates (same generator and seed), and the store's
growth in bytes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # bench.py's synthesize()

from testsets import DATA, read_jsonl  # noqa: E402
from index import dedup  # noqa: E402
from index.documents import Article  # noqa: E402
from index.store import ArticleStore  # noqa: E402
from search.stories.clusters import Clusters  # noqa: E402

BBC = DATA / "bbc_news"
DATELINES = ["LONDON (Reuters-style wire) -", "(AP-style agency) -", "NEW YORK, {day} -", "From our wire service:"]
BOILERPLATE = [
    "This article was supplied by a news agency and is republished under licence.",
    "Sign up to our morning newsletter for the day's top stories. Copyright the original publisher; "
    "all rights reserved.",
    "Additional reporting by our correspondents. Follow us on social media for live updates.",
    "Originally published elsewhere and shared through a content partnership. Reporting by staff writers; "
    "editing by the news desk.",
]
STYLE = [("per cent", "percent"), ("%", " percent"), ("said", "says"), ("Mr ", "Mr. "), ("£", "GBP ")]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def load_bbc() -> list[dict]:
    return list(read_jsonl(BBC / "corpus.jsonl"))


def exact_pairs() -> list[tuple[str, str]]:
    pairs = []
    for line in (BBC / "duplicates.tsv").read_text().splitlines()[1:]:
        kept, *others = re.split(r"[\t,; ]+", line.strip())
        pairs += [(kept, o) for o in others if o]
    return pairs


def rewrite(doc: dict, strength: str, rng: random.Random) -> dict:
    """A syndicated copy of a BBC article: `light`, `medium` or `heavy`."""
    paragraphs = [p for p in doc["text"].split("\n\n") if p.strip()]
    lead, rest = paragraphs[0], paragraphs[1:]
    sentences = _SENTENCE.split(lead)
    words = sentences[0].split()
    # A changed lead sentence: a dateline, every fifth word dropped, a clause added.
    words = [w for i, w in enumerate(words) if i % 5 != 4]
    sentences[0] = " ".join([rng.choice(DATELINES).format(day="Tuesday"), *words, "officials confirmed."])
    lead = " ".join(sentences)
    if strength in ("medium", "heavy") and len(rest) > 2:
        rest.pop(rng.randrange(len(rest)))  # one paragraph dropped
        i = rng.randrange(len(rest) - 1)
        rest[i], rest[i + 1] = rest[i + 1], rest[i]  # two paragraphs swapped
    if strength == "heavy" and len(rest) > 3:
        rest = rest[: max(2, (len(rest) * 3) // 5)]  # cut short, as a brief
        rest = [p for p in rest if rng.random() > 0.2] or rest[:1]
    text = "\n\n".join([lead, *rest, *rng.sample(BOILERPLATE, 2)])
    for old, new in STYLE:
        if rng.random() < 0.5:
            text = text.replace(old, new)
    title = " ".join(reversed(doc["title"].split())) + " - update"
    return {"_id": f"copy-{strength}-{doc['_id']}", "title": title, "text": text, "of": doc["_id"]}


def build_store(folder: Path, docs: list[dict]) -> tuple[ArticleStore, float]:
    """An article store at generation 1 holding `docs` with their signatures; seconds spent on
    signatures and their rows."""
    store = ArticleStore(folder / "articles.sqlite", 1)
    store.begin()
    spent = 0.0
    for d in docs:
        store.put_article(Article(id=d["_id"], title=d.get("title") or "", text=d.get("text") or ""), [], "h")
        started = time.perf_counter()
        dedup.store_signature(store, d["_id"], d.get("title") or "", d.get("text") or "")
        spent += time.perf_counter() - started
    store.commit()
    return store, spent


def clustered_pairs(clusters: Clusters, ids: list[str]) -> set[frozenset]:
    members = clusters.members(ids)
    pairs = set()
    for group in {m for m in members.values() if len(m) > 1}:
        pairs |= {frozenset(p) for p in itertools.combinations(sorted(group), 2)}
    return pairs


def quality(args) -> None:
    rng = random.Random(13)
    docs = load_bbc()
    by_id = {d["_id"]: d for d in docs}
    originals = rng.sample(docs, args.copies)
    copies = [rewrite(d, strength, rng) for d in originals for strength in ("light", "medium", "heavy")]
    exact = exact_pairs()
    story = {d["_id"]: d["_id"] for d in docs}
    for kept, other in exact:  # an exact duplicate belongs to its kept article's story
        story[other] = kept
    for c in copies:
        story[c["_id"]] = story[c["of"]]
    ids = [d["_id"] for d in docs] + [c["_id"] for c in copies]
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = build_store(Path(tmp), docs + copies)
        store = ArticleStore(Path(tmp) / "articles.sqlite", 1, readonly=True)
        groups: dict[str, list[str]] = {}
        for i in ids:
            groups.setdefault(story[i], []).append(i)
        truth = {frozenset(p) for g in groups.values() for p in itertools.combinations(sorted(g), 2)}
        print(f"{len(docs)} BBC articles + {len(copies)} rewritten copies of {len(originals)} of them; "
              f"{len(truth)} true pairs ({len(exact)} exact duplicates from duplicates.tsv)")
        print("threshold  precision  recall  recall light/medium/heavy  exact pairs together  false pairs")
        report = {}
        for t in args.thresholds:
            found = clustered_pairs(Clusters(store, threshold=t), ids)
            good = found & truth
            per = {}
            for s in ("light", "medium", "heavy"):
                want = {p for p in truth if any(x.startswith(f"copy-{s}-") for x in p)}
                per[s] = len(want & found) / len(want)
            together = sum(frozenset(p) in found for p in exact)
            false = sorted(tuple(sorted(p)) for p in found - truth)
            precision = len(good) / len(found) if found else 1.0
            recall = len(good) / len(truth)
            report[t] = {"precision": precision, "recall": recall, **per, "exact_together": together,
                         "false": false}
            print(f"{t:9.2f}  {precision:9.3f}  {recall:6.3f}  {per['light']:.3f}/{per['medium']:.3f}/{per['heavy']:.3f}"
                  f"          {together}/{len(exact)}           {len(false)}")
        chosen = report.get(args.show, next(iter(report.values())))
        bbc_false = [p for p in chosen["false"] if not any(x.startswith("copy-") for x in p)]
        same_title = [p for p in bbc_false if by_id[p[0]]["title"].strip().lower() == by_id[p[1]]["title"].strip().lower()]
        print(f"\nat threshold {args.show}: {len(bbc_false)} of the {len(chosen['false'])} false pairs join two BBC "
              f"articles (the rest join a copy to such a pair's partner); {len(same_title)} of them have the "
              "same title. Read them by hand:")
        sigs = {a: dedup.signature(dedup.article_text("", by_id[a]["text"])) for p in bbc_false for a in p}
        for a, b in bbc_false[:args.list]:
            print(f"  {dedup.similarity(sigs[a], sigs[b]):.2f}  {a}: {by_id[a]['title']}  |  {b}: {by_id[b]['title']}")
        if args.sample_clusters:
            members = Clusters(store, threshold=args.show).members([d["_id"] for d in docs])
            bbc_groups = sorted({frozenset(x for x in m if x in by_id) for m in members.values()} - {frozenset()},
                                key=sorted)
            bbc_groups = [g for g in bbc_groups if len(g) > 1]
            print(f"\n{len(bbc_groups)} clusters among the BBC articles alone; a sample of {args.sample_clusters}:")
            for g in random.Random(5).sample(bbc_groups, min(args.sample_clusters, len(bbc_groups))):
                print("  " + " | ".join(f"{a}: {by_id[a]['title']}" for a in sorted(g)))


def synthetic_docs(count: int) -> list[dict]:
    """The articles scripts/bench.py's synthesize() writes (same generator, same seed)."""
    import bench

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "synthetic.jsonl"
        bench.synthesize(BBC / "corpus.jsonl", target, count)
        return [{**json.loads(line), "_id": json.loads(line)["id"]} for line in target.read_text().splitlines()]


def cost(args) -> None:
    sets = [("bbc", load_bbc())]
    if args.synthetic:
        sets.append((f"synthetic-{args.synthetic}", synthetic_docs(args.synthetic)))
    for name, docs in sets:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            started = time.perf_counter()
            store, spent = build_store(folder, docs)
            total = time.perf_counter() - started
            rows = store.db.execute("SELECT COUNT(*) FROM lsh_buckets").fetchone()[0]
            store.db.execute("VACUUM")
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = sum(p.stat().st_size for p in folder.iterdir())
            # Store size without the signature tables, for the growth they cause.
            store.db.execute("DROP TABLE signatures")
            store.db.execute("DROP TABLE lsh_buckets")
            store.db.execute("VACUUM")
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            bare = sum(p.stat().st_size for p in folder.iterdir())
            store.close()
        print(f"{name}: {len(docs)} articles; signature + store rows {spent / len(docs) * 1e3:.2f} ms/article "
              f"({spent:.1f} s of {total:.1f} s writing the store); {rows} bucket rows; "
              f"signature tables {(size - bare) / 1e6:.1f} MB ({(size - bare) / len(docs):.0f} bytes/article); "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def latency(args) -> None:
    """Warm query latency of `byline search` with and without collapse (the same queries)."""
    import statistics

    from search.retrieval.opened import OpenIndex
    from search.ranking.ranker import Ranker, SearchOptions
    from search.stories.view import View, search_many

    index = OpenIndex(args.index)
    queries = [q["text"] for q in read_jsonl(DATA / "bbc_qa_dev2" / "queries.jsonl")]
    queries = [re.sub(r"[^\w\s]", " ", q) for q in queries][:args.queries]
    for mode in ("hybrid", "lexical"):
        ranker = Ranker(index, SearchOptions(mode=mode, k=args.k))
        search_many(ranker, queries[:3], View())  # warm up: model, files, caches
        for label, view in (("plain", View(collapse=False)), ("collapse", View()), ("sort date", View(sort="date"))):
            times = []
            for q in queries:
                started = time.perf_counter()
                search_many(ranker, [q], view)
                times.append((time.perf_counter() - started) * 1e3)
            times.sort()
            print(f"{mode:8} {label:9} k={args.k}: median {statistics.median(times):.1f} ms, "
                  f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms over {len(times)} queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quality", help="precision and recall on rewritten BBC articles")
    q.add_argument("--copies", type=int, default=300, help="BBC articles rewritten (x3 strengths)")
    q.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    q.add_argument("--show", type=float, default=0.5, help="threshold whose false pairs are listed")
    q.add_argument("--list", type=int, default=20, help="how many false pairs to list")
    q.add_argument("--sample-clusters", type=int, default=0, help="print N clusters of BBC articles")
    c = sub.add_parser("cost", help="time and space of signatures, without embedding")
    c.add_argument("--synthetic", type=int, default=0, help="also the synthetic archive of N articles")
    lat = sub.add_parser("latency", help="warm query latency with and without collapse")
    lat.add_argument("--index", type=Path, required=True, help="an index of bbc_news with signatures")
    lat.add_argument("--queries", type=int, default=120)
    lat.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    {"quality": quality, "cost": cost, "latency": latency}[args.command](args)


if __name__ == "__main__":
    main()
