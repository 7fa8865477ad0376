"""Benchmark `byline serve`: warm latency through the server, 16 concurrent clients, and a cold
`byline search` command through the server against one that opens the index itself.

    .venv/bin/python scripts/bench_serve.py                 # an index of samples/ (+ the seed article)
    .venv/bin/python scripts/bench_serve.py --index DIR     # an existing index (e.g. the BBC set)

Starts a real `byline serve` on a free loopback port (with XDG_RUNTIME_DIR in a temp folder, so
`byline search` finds it), then measures:
  warm      N sequential GET /search requests per mode (p50/p95), answers included, then 40
            hybrid queries it has not seen (the server keeps sentence rows it has read)
  load      C threads x R requests at once (p50/p95, requests/s, failures): first over 8 queries
            in turn (what the issue's targets were set on), then each request a query of its own
            (article titles of the index, which the server's caches have not seen)
  hog       one request of many queries (8000: refused; 100: the most taken) and, meanwhile,
            another client's lexical searches one after another (their p50/max)
  cold CLI  whole `byline search` processes, through the server and with --no-server
Prints the figures; docs/serve.md keeps the latest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BYLINE = str(Path(sys.executable).with_name("byline"))
QUERIES = ["who proposed talks without preconditions", "rail strike", "interest rate decision",
           "sanctions on North Korea", "election results", "floods and heavy rain", "new vaccine trial",
           "football transfer fee"]
# Asked once each, after the repeated ones: the server keeps the sentence rows of articles it has
# read (index/store.py), so queries it has seen before are cheaper than new ones.
NEW_QUERIES = ["oil price rise hits airlines", "who won the best actor award", "mobile phone sales growth",
               "tax cuts promised before the election", "injury rules striker out of cup final",
               "broadband prices fall", "record label sues file sharers", "car maker cuts jobs",
               "minister resigns over visa row", "video game console launch", "stock market hits high",
               "box office takings for new film", "hospital waiting lists", "rugby six nations squad",
               "spam email crackdown", "pension reform plans", "tennis open quarter final",
               "budget deficit forecast", "music download chart", "school exam results",
               "airline merger talks", "identity cards bill", "marathon world record",
               "search engine advertising revenue", "house prices slow down", "band splits up",
               "immigration figures published", "champions league draw", "virus attacks computers",
               "euro strength hurts exporters", "comedy series wins award", "police powers debate",
               "athlete fails drug test", "digital television switch over", "retail sales at christmas",
               "film director dies", "general election date", "cricket test series",
               "online banking fraud", "steel company profits"]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pct(values: list[float]) -> str:
    q = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
    return f"p50 {statistics.median(values) * 1000:6.1f} ms   p95 {q[18] * 1000:6.1f} ms"


def get(url: str) -> tuple[int, float]:
    start = time.perf_counter()
    with OPENER.open(url, timeout=120) as reply:
        reply.read()
        return reply.status, time.perf_counter() - start


def post(url: str, body: dict) -> tuple[int, float, int]:
    """(status, seconds, reply bytes) of a JSON POST."""
    import json
    import urllib.error

    start = time.perf_counter()
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with OPENER.open(request, timeout=300) as reply:
            status, data = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read()
    return status, time.perf_counter() - start, len(data)


def title_queries(index: Path, n: int) -> list[str]:
    """Up to `n` different article titles of the index, spread over it, as keyword queries."""
    import sqlite3

    db = sqlite3.connect(f"{(index / 'articles.sqlite').absolute().as_uri()}?mode=ro", uri=True)
    try:
        titles = [t for (t,) in db.execute("SELECT DISTINCT title FROM articles WHERE title != '' ORDER BY id")]
    finally:
        db.close()
    titles = [t.replace('"', "") for t in titles]
    return titles[::max(1, len(titles) // n)][:n]


def load(base: str, clients: int, requests: int, queries: list[str], repeat: bool) -> str:
    """`clients` threads each sending `requests` hybrid searches at once: with `repeat`, the
    clients take turns over a few queries (as a popular query would be asked); without it each
    request asks a query of its own (from `queries`, cycled only when there are too few)."""
    times, failures, lock = [], [], threading.Lock()

    def client(n: int) -> None:
        for i in range(requests):
            query = queries[(n + i) % len(queries)] if repeat else queries[(n * requests + i) % len(queries)]
            try:
                status, t = get(f"{base}/search?{urllib.parse.urlencode({'q': query, 'k': 10})}")
                ok = status == 200
            except OSError as exc:
                ok, t = False, 0.0
                status = exc
            with lock:
                times.append(t)
                if not ok:
                    failures.append(status)

    before = served_counts(base)
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    after = served_counts(base)
    total = clients * requests
    asked = f"{len(queries)} queries in turn" if repeat else f"{len(set(queries))} different queries, each new"
    ran = ""
    if before and after:  # a server that reports them (older ones do not count queries run)
        ran = (f"   engine calls {after['batches'] - before['batches']}, "
               f"queries run {after['queries_run'] - before['queries_run']}")
    return (f"{clients} clients x {requests} hybrid requests ({asked}): {pct(times)}   "
            f"{total / wall:.1f} req/s   failures {len(failures)}/{total}{ran}")


def served_counts(base: str) -> dict | None:
    """The server's counts of engine calls and of the queries they ran (GET /status)."""
    import json

    with OPENER.open(f"{base}/status", timeout=120) as reply:
        server = json.loads(reply.read()).get("server", {})
    return server if "queries_run" in server else None


def hog(base: str, queries: list[str]) -> str:
    """One request of `queries` and, while it runs, another client's searches: what each got."""
    done = {}
    thread = threading.Thread(target=lambda: done.update(reply=post(f"{base}/search", {"queries": queries})))
    thread.start()
    others = []
    while thread.is_alive():
        q = urllib.parse.urlencode({"q": QUERIES[len(others) % len(QUERIES)], "mode": "lexical", "k": 3})
        others.append(get(f"{base}/search?{q}")[1])
    thread.join()
    status, seconds, size = done["reply"]
    waits = f"p50 {statistics.median(others) * 1000:6.1f} ms  max {max(others) * 1000:6.1f} ms" if others else "none"
    return (f"{len(queries)} queries: {status} in {seconds * 1000:.0f} ms, {size / 1024:.0f} KB; "
            f"meanwhile {len(others)} other searches: {waits}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="an existing index (default: build one of samples/)")
    ap.add_argument("--warm", type=int, default=40, help="sequential requests per mode")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=10, help="per client")
    ap.add_argument("--cold", type=int, default=5, help="cold commands each way (0: none)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="byline-bench-serve-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "XDG_RUNTIME_DIR": str(work)}
    index = args.index
    if index is None:
        index = work / "ix"
        sources = [str(ROOT / "samples")]
        seed = ROOT.parent / "shared" / "data" / "seed"
        if seed.is_dir():
            sources.append(str(seed))
        subprocess.run([BYLINE, "index", "add", *sources, "--index", str(index), "-q"], env=env, check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([BYLINE, "serve", "--index", str(index), "--port", str(port)], env=env,
                              stderr=subprocess.DEVNULL)
    try:
        started = time.perf_counter()
        while True:
            try:
                get(base + "/status")
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 120:
                    sys.exit("byline serve did not start")
                time.sleep(0.1)
        print(f"index {index}: server up in {time.perf_counter() - started:.1f} s (index opened, model loaded)")

        for mode in ("lexical", "semantic", "hybrid"):
            times = []
            for i in range(args.warm):
                q = urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)], "mode": mode, "k": 10})
                status, t = get(f"{base}/search?{q}")
                assert status == 200
                times.append(t)
            print(f"warm {mode:<8} {args.warm} requests, k=10, answers: {pct(times)}")
        times = []
        for query in NEW_QUERIES:
            status, t = get(f"{base}/search?{urllib.parse.urlencode({'q': query, 'mode': 'hybrid', 'k': 10})}")
            assert status == 200
            times.append(t)
        print(f"warm hybrid, each query new ({len(NEW_QUERIES)}), k=10, answers: {pct(times)}")

        print(f"load     {load(base, args.clients, args.requests, QUERIES, repeat=True)}")
        titles = title_queries(index, args.clients * args.requests)
        print(f"load     {load(base, args.clients, args.requests, titles, repeat=False)}")

        for n in (8000, 100):
            print(f"hog      {hog(base, ['bank'] * n)}")

        for label, extra in (("through server", []), ("--no-server   ", ["--no-server"])) if args.cold else ():
            for mode in ("lexical", "hybrid"):
                times = []
                for i in range(args.cold):
                    start = time.perf_counter()
                    subprocess.run([BYLINE, "search", QUERIES[i % len(QUERIES)], "--mode", mode, "--index",
                                    str(index), "-o", "json", *extra], env=env, stdout=subprocess.DEVNULL, check=True)
                    times.append(time.perf_counter() - start)
                print(f"cold CLI {label} {mode:<7} {args.cold} runs: {pct(times)}")
        for label, code in (("python -c pass", "pass"), ("python + typer imported", "import typer")) if args.cold else ():
            times = []
            for _ in range(args.cold):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], check=True)
                times.append(time.perf_counter() - start)
            print(f"cold     {label:<27} {args.cold} runs: {pct(times)}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
