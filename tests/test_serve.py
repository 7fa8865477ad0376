"""`byline serve`: a real server process (uvicorn, the real model, a copy of the sample index)
over loopback: the JSON API and its errors, the token, size limits, Atom, `byline search` through
the server and its discovery file, 16 concurrent clients; and, in process, a newly committed
generation picked up without a restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from search.frontends.cli import app

from conftest import NK, ROOT

BYLINE = str(Path(sys.executable).with_name("byline"))
QUESTION = "who proposed talks without preconditions"
TOKEN = "test-token-123"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `byline serve` subprocess and a small client for it."""

    def __init__(self, index: Path, runtime: Path, *extra: str, token: str | None = TOKEN):
        self.index, self.runtime, self.token = index, runtime, token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "XDG_RUNTIME_DIR": str(runtime)}
        args = [BYLINE, "serve", "--index", str(index), "--port", str(self.port), *extra]
        if token:
            args += ["--token", token]
        self.proc = subprocess.Popen(args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"byline serve exited: {self.proc.stdout.read()}")
            try:
                if self.get("/status")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("byline serve did not start in 90 s")

    def call(self, method: str, path: str, body: bytes | None = None, token: str | None = "default",
             headers: dict | None = None):
        token = self.token if token == "default" else token
        h = {"Content-Type": "application/json", **(headers or {})}  # a header given as None is not sent
        h = {name: value for name, value in h.items() if value is not None}
        if token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, body, h, method=method)
        try:
            with _NO_PROXY.open(req, timeout=60) as reply:
                data = reply.read()
                status, kind = reply.status, reply.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            data, status, kind = exc.read(), exc.code, exc.headers.get("content-type", "")
        return status, (json.loads(data) if "json" in kind else data.decode())

    def get(self, path: str, **kw):
        return self.call("GET", path, **kw)

    def post(self, path: str, obj, **kw):
        return self.call("POST", path, json.dumps(obj).encode(), **kw)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def served(sample_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("serve")
    index = base / "ix"
    shutil.copytree(sample_index, index)
    result = CliRunner().invoke(app, ["saved", "add", "nk", "North Korea talks", "-k", "3", "--index", str(index)])
    assert result.exit_code == 0, result.output
    runtime = base / "run"
    runtime.mkdir()
    server = Server(index, runtime)
    yield server
    if server.proc.poll() is None:
        server.stop()


def test_search_answer_article_similar(served):
    status, data = served.get("/search?q=who+proposed+talks+without+preconditions&k=3")
    assert status == 200
    top = data["results"][0]
    assert top["id"] in NK and top["answer"]["text"] and top["highlights"]
    assert len(data["results"]) <= 3 and data["query"] == QUESTION

    status, posted = served.post("/search", {"query": QUESTION, "k": 3, "mode": "lexical", "sort": "date"})
    assert status == 200 and posted["results"]
    status, batch = served.post("/search", {"queries": [QUESTION, "rail strike"], "k": 2})
    assert status == 200 and [r["query"] for r in batch["responses"]] == [QUESTION, "rail strike"]

    status, answer = served.get("/answer?q=who+proposed+talks+without+preconditions")
    assert status == 200 and answer["kind"] == "sentence" and "precondition" in answer["answer"]
    assert answer["article"]["id"] in NK

    status, article = served.get(f"/articles/{top['id']}")
    assert status == 200 and article["title"] == top["title"] and len(article["text"]) > 500

    status, like = served.get(f"/similar?id={top['id']}&k=3")
    assert status == 200 and like["results"] and top["id"] not in [r["id"] for r in like["results"]]

    status, info = served.get("/status")
    assert status == 200 and info["articles"] >= 20 and info["server"]["allow_index"] is False

    status, spec = served.get("/openapi.json", token=None)  # the description needs no token
    assert status == 200 and spec["openapi"].startswith("3.") and "/search" in spec["paths"]
    assert "/index" not in spec["paths"]


def test_errors_are_json_with_status(served):
    cases = [
        (served.get("/search?q=title:(&mode=lexical"), 400, "bad query"),
        (served.get("/search?q=talks&since=someday"), 400, "not a date"),
        (served.get("/search?q=talks&k=0"), 400, "-k"),
        (served.get("/search?q=talks&k=many"), 400, "number"),
        (served.get("/search?q=talks&mode=fuzzy"), 400, "mode"),
        (served.get("/search"), 400, "give a query"),
        (served.post("/search", ["not", "an", "object"]), 400, "JSON object"),
        (served.call("POST", "/search", b"{not json"), 400, "not JSON"),
        (served.get("/articles/no-such-article"), 404, "no article"),
        (served.get("/similar?id=no-such-article"), 404, "no article"),
        (served.get("/saved/nope/run"), 404, "no saved search"),
        (served.get("/no/such/route"), 404, "Not Found"),
        (served.post("/index", {"paths": ["/tmp"]}), 404, "Not Found"),  # read-only without --allow-index
        (served.get("/search?q=talks", token=None), 401, "token"),
        (served.get("/search?q=talks", token="wrong"), 401, "token"),
        (served.post("/search", {"query": "x" * 70_000}), 413, "body"),
        (served.get("/search?q=" + "x" * 9000), 414, "query string"),
        (served.post("/search", {"query": "x" * 5000}), 400, "limit"),
        (served.get("/saved/nk/run?new=true"), 405, "POST"),
    ]
    for (status, data), want, words in cases:
        assert status == want, (want, data)
        assert data["status"] == want and words in data["error"], (want, data)
    assert served.proc.poll() is None  # nothing of that crashed the server
    assert served.get("/search?q=talks&k=1")[0] == 200


def test_forged_host_origin_and_content_type_are_refused(served):
    """DNS rebinding (a Host naming another site), cross-site requests (another Origin, a
    `Sec-Fetch-Site: cross-site` fetch) and simple requests (a POST that is not JSON) are refused
    before any work; the loopback names with this port are served."""
    port = served.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST", "localhost:9000"):
        assert served.get("/search?q=talks&k=1", headers={"Host": host})[0] == 200, host  # 9000: a tunnel
    for host in ("rebind.evil.example", f"rebind.evil.example:{port}", f"localhost.evil.example:{port}",
                 f"127.0.0.1.evil.example:{port}", f"10.0.0.1:{port}", "localhost:x", "[::1", ""):
        status, data = served.get("/search?q=talks&k=1", headers={"Host": host})
        assert status == 421 and "does not serve the host" in data["error"], (host, status, data)
    assert served.get("/", token=None, headers={"Host": f"rebind.evil.example:{port}"})[0] == 421  # the page too

    evil = {"Origin": "http://evil.example"}
    assert served.post("/search", {"query": "talks"}, headers=evil)[0] == 403
    assert served.get("/search?q=talks", headers=evil)[0] == 403
    assert served.post("/search", {"query": "talks"}, headers={"Origin": "null"})[0] == 403
    assert served.post("/search", {"query": "talks"}, headers={"Origin": f"http://localhost:{port + 1}"})[0] == 403
    assert served.get("/search?q=talks", headers={"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"})[0] == 403
    assert served.post("/search", {"query": "talks"}, headers={"Origin": f"http://127.0.0.1:{port}"})[0] == 200
    assert served.get("/", token=None, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})[0] == 200

    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        status, data = served.post("/search", {"query": "talks"}, headers={"Content-Type": kind})
        assert status == 415 and "application/json" in data["error"], (kind, status)
    utf8 = {"Content-Type": "application/json; charset=utf-8"}
    assert served.post("/search", {"query": "talks"}, headers=utf8)[0] == 200

    # The saved-search run with new=true is a write: refused without JSON, and nothing was recorded.
    assert served.call("POST", "/saved/nk/run?new=true", headers={"Content-Type": None})[0] == 415
    assert served.call("POST", "/saved/nk/run?new=true", headers=evil)[0] == 403
    status, listed = served.get("/saved")
    assert status == 200 and served.proc.poll() is None


def test_hosts_served_on_every_address_or_a_name(sample_index):
    """In process: `--host 0.0.0.0` also answers the machine's IP addresses (an IP literal cannot
    be rebound) but no other name; `--host NAME` answers NAME and the loopback names."""
    from starlette.testclient import TestClient

    from search.engine import Engine
    from search.frontends.http import build_app

    engine = Engine(sample_index)
    q = {"q": "talks", "mode": "lexical", "k": 1}
    every = build_app(engine, host="0.0.0.0", port=8765)
    for base, want in [("http://192.168.7.7:8765", 200), ("http://[fe80::1]:8765", 200), ("http://localhost:8765", 200),
                       ("http://rebind.evil.example:8765", 421), ("http://7.7:8765", 421)]:
        assert TestClient(every, base_url=base).get("/search", params=q).status_code == want, base
    named = build_app(engine, host="News.Example.LAN", port=8765)
    for base, want in [("http://news.example.lan:8765", 200), ("http://127.0.0.1:8765", 200),
                       ("http://192.168.7.7:8765", 421), ("http://rebind.evil.example:8765", 421)]:
        assert TestClient(named, base_url=base).get("/search", params=q).status_code == want, base
    engine.close()


def test_reply_over_the_limit_is_refused(sample_index, monkeypatch):
    """In process, with the reply limit lowered to 2 KB: a reply over it is a 413, not sent."""
    from starlette.testclient import TestClient

    from search.engine import Engine
    from search.frontends import http

    engine = Engine(sample_index)
    client = TestClient(http.build_app(engine, port=8765), base_url="http://127.0.0.1:8765")
    q = {"q": "talks", "mode": "lexical"}
    assert len(client.get("/search", params={**q, "k": 10}).content) > 2048
    monkeypatch.setattr(http, "MAX_REPLY_BYTES", 2048)
    big = client.get("/search", params={**q, "k": 10})
    assert big.status_code == 413 and "reply would be over" in big.json()["error"]
    engine.close()


def test_allow_index_needs_a_token(sample_index, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("BYLINE_TOKEN", None)
    for host in ("127.0.0.1", "0.0.0.0"):
        done = subprocess.run([BYLINE, "serve", "--index", str(sample_index), "--port", str(free_port()),
                               "--host", host, "--allow-index"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "--allow-index needs --token" in done.stderr, (host, done.stderr)
    assert not list(tmp_path.glob("byline/*.json"))  # no server announced


def test_one_request_cannot_occupy_the_server(served):
    """Too many queries or results in one request are refused at once (413) while another client
    is served; a 20k-deep JSON body is a 400, not a 500."""
    done, other = {}, []

    def flood() -> None:
        start = time.perf_counter()
        done["reply"] = served.post("/search", {"queries": ["bank"] * 8000, "k": 10})
        done["seconds"] = time.perf_counter() - start

    thread = threading.Thread(target=flood)
    thread.start()
    while thread.is_alive() and len(other) < 3:
        start = time.perf_counter()
        status, _ = served.get("/search?q=rail+strike&k=3")
        other.append((status, time.perf_counter() - start))
    thread.join(timeout=120)
    status, data = done["reply"]
    assert status == 413 and "8000 queries" in data["error"], (status, str(data)[:200])
    assert done["seconds"] < 10, done  # refused before any search (it took 46 s and 88 MB)
    assert all(s == 200 and t < 10 for s, t in other), other

    cases = [
        (served.post("/search", {"queries": ["bank", "rail"], "k": 600}), 413, "k x queries"),
        (served.post("/search", {"query": "bank", "k": 5000}), 413, "k x queries"),
        (served.get("/similar?id=x&k=5000"), 413, "k x queries"),
        (served.call("POST", "/search", b"[" * 20_000 + b"]" * 20_000), 400, "nested too deeply"),
        (served.call("POST", "/search", b'{"a":' * 12_000), 400, "JSON"),
    ]
    for (status, data), want, words in cases:
        assert status == want and words in data["error"], (want, status, data)
    status, data = served.post("/search", {"queries": ["bank"] * 100, "k": 10, "mode": "lexical"})
    assert status == 200 and len(data["responses"]) == 100  # the limit itself is served
    assert served.proc.poll() is None


def test_a_request_of_many_queries_takes_turns(served):
    """100 queries in one request (the most allowed) are run a few at a time: searches sent by
    another client meanwhile are answered before the long request is."""
    finished = {}

    def long_request() -> None:
        finished["status"] = served.post("/search", {"queries": [QUESTION, "rail strike"] * 50, "k": 10})[0]
        finished["long"] = time.perf_counter()

    start = time.perf_counter()
    thread = threading.Thread(target=long_request)
    thread.start()
    time.sleep(0.2)
    others = []  # how long each of the other client's searches waited
    for q in ("interest rates", "storm flooding", "sanctions"):
        assert thread.is_alive(), "the long request ended before the other client asked"
        sent = time.perf_counter()
        status, data = served.get("/search?" + urllib.parse.urlencode({"q": q, "k": 3, "mode": "lexical"}))
        assert status == 200 and data["results"]
        others.append(time.perf_counter() - sent)
    thread.join(timeout=300)
    long = finished["long"] - start
    print(f"the long request took {long:.2f} s; the other client's searches took {others}")
    assert finished["status"] == 200
    # Each waited a turn of 8 queries at most, not for the rest of the long request's engine
    # work (before the turns, the first waited about 0.8 x the long request).
    assert max(others) < 0.3 * long, (others, long)


def test_saved_runs_and_atom_feed(served):
    import feedparser

    status, listed = served.get("/saved")
    assert status == 200 and [s["name"] for s in listed["saved"]] == ["nk"]
    status, ran = served.get("/saved/nk/run")
    assert status == 200 and ran["name"] == "nk" and ran["results"][0]["id"] in NK
    status, first = served.post("/saved/nk/run?new=true", {})
    assert status == 200 and first["results"]
    status, again = served.post("/saved/nk/run?new=true", {})
    assert status == 200 and again["results"] == []  # every result was reported by the first run

    status, xml = served.get("/saved/nk.atom")
    assert status == 200 and xml.startswith("<?xml")
    feed = feedparser.parse(xml.encode())
    assert not feed.bozo and feed.version == "atom10"
    assert feed.feed.title == "byline: nk" and feed.feed.id == "urn:byline:saved:nk"
    assert [e.title for e in feed.entries] == [r["title"] for r in ran["results"]]
    top = feed.entries[0]
    assert top.id == f"urn:byline:article:{ran['results'][0]['id']}" and top.updated.startswith("20")
    assert top.summary == " ".join(ran["results"][0]["answer"]["text"].split())


def test_byline_search_uses_the_running_server(served, tmp_path):
    files = list(served.runtime.glob("byline/*.json"))
    assert len(files) == 1
    info = json.loads(files[0].read_text())
    assert info["port"] == served.port and info["index"] == str(served.index.resolve())
    assert info["token"] == TOKEN and (files[0].stat().st_mode & 0o077) == 0  # the user's only

    def searches() -> int:
        return served.get("/status")[1]["server"]["searches"]

    def search(*extra: str):
        return subprocess.run([BYLINE, "search", QUESTION, "--index", str(served.index), "-o", "json", "-k", "2",
                               *extra], env=served.env, capture_output=True, text=True, timeout=120)

    before = searches()
    through = search()
    assert through.returncode == 0, through.stderr
    assert searches() == before + 1
    local = search("--no-server")
    assert local.returncode == 0, local.stderr
    assert searches() == before + 1  # --no-server opened the index itself
    assert json.loads(through.stdout) == json.loads(local.stdout)  # the same results, either way

    bad = subprocess.run([BYLINE, "search", "title:(", "--mode", "lexical", "--index", str(served.index)],
                         env=served.env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "bad query" in bad.stderr  # the server's 400 is the CLI's usage error


def test_byline_search_of_more_queries_than_a_request_takes(served, tmp_path):
    """`byline search --queries` with more queries than the server takes in one request (413)
    searches the index itself, with the same results."""
    questions = tmp_path / "q.txt"
    questions.write_text("\n".join(["rail strike", "interest rates", QUESTION] * 50) + "\n")
    before = served.get("/status")[1]["server"]["searches"]

    def search(*extra: str):
        return subprocess.run([BYLINE, "search", "--queries", str(questions), "--mode", "lexical", "-k", "2",
                               "-o", "trec", "--index", str(served.index), *extra], env=served.env,
                              capture_output=True, text=True, timeout=300)

    done = search()
    assert done.returncode == 0, done.stderr
    assert served.get("/status")[1]["server"]["searches"] == before  # refused, so searched here
    assert len({line.split()[0] for line in done.stdout.splitlines()}) == 150
    assert done.stdout == search("--no-server").stdout


def test_stale_server_file_is_ignored(sample_index, tmp_path, monkeypatch):
    from search.frontends import discovery

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "XDG_RUNTIME_DIR": str(tmp_path)}
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = discovery.server_file(sample_index)
    path.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"pid": dead.pid, "host": "127.0.0.1", "port": free_port(),
                                "index": str(sample_index.resolve()), "token": None}))
    done = subprocess.run([BYLINE, "search", "rail strike", "--mode", "lexical", "--index", str(sample_index),
                           "-o", "ids", "-k", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    assert not path.exists()  # the dead server's file was removed


def test_sixteen_concurrent_clients(served):
    """16 threads x 5 requests over loopback: every one answered correctly (timings: scripts/bench_serve.py)."""
    queries = [QUESTION, "rail strike", "interest rates", "sanctions on North Korea"]
    failures, timings, lock = [], [], threading.Lock()

    def client(n: int) -> None:
        for i in range(5):
            q = queries[(n + i) % len(queries)]
            start = time.perf_counter()
            try:
                status, data = served.get("/search?" + urllib.parse.urlencode({"q": q, "k": 3}))
                ok = status == 200 and data["query"] == q and data["results"]
                if q == QUESTION:
                    ok = ok and data["results"][0]["id"] in NK
            except Exception as exc:  # noqa: BLE001 (a failed request is what this counts)
                ok, status = False, repr(exc)
            with lock:
                timings.append(time.perf_counter() - start)
                if not ok:
                    failures.append((q, status))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not failures and len(timings) == 80
    q = statistics.quantiles(timings, n=20)
    print(f"16 clients x 5 requests: p50 {statistics.median(timings) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms")


def test_concurrent_searches_match_sequential_ones(served):
    """16 clients at once get the results each request gets alone, while the server runs
    concurrent searches of the same options as one batch (one engine call, one model call)."""
    import random

    requests = [{"q": q, "k": k, "mode": mode} for q in (QUESTION, "rail strike", "interest rates", "sanctions",
                                                          "storm flooding", "title:(")
                for k, mode in ((3, "hybrid"), (5, "hybrid"), (3, "lexical"), (4, "semantic"))]

    def ask(params):
        status, data = served.get("/search?" + urllib.parse.urlencode(params))
        if status != 200:
            return status, data["error"]
        return status, [(r["rank"], r["id"], r["title"], round(r["score"], 4)) for r in data["results"]]

    alone = [ask(r) for r in requests]
    assert sum(status == 200 for status, _ in alone) >= 20 and alone[0][1][0][1] in NK
    assert {status for status, _ in alone} == {200, 400}  # title:( is a bad query in lexical and hybrid

    before = served.get("/status")[1]["server"]
    together, lock = {}, threading.Lock()

    def client(n: int) -> None:
        order = list(range(len(requests)))
        random.Random(n).shuffle(order)
        for i in order:
            reply = ask(requests[i])
            with lock:
                together.setdefault(i, []).append(reply)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    for i, replies in together.items():
        assert len(replies) == 16 and all(reply == alone[i] for reply in replies), (requests[i], replies, alone[i])
    after = served.get("/status")[1]["server"]
    searches, batches = after["searches"] - before["searches"], after["batches"] - before["batches"]
    assert searches == 16 * len(requests) and batches < searches, (searches, batches)
    print(f"{searches} concurrent searches in {batches} engine calls")


def test_a_query_repeated_in_a_batch_is_run_once(sample_index):
    """Clients asking the same search while the engine is busy wait in one batch; the engine runs
    each distinct query of it once and every client gets the response the search gets alone."""
    from search.batched import BatchedSearches
    from search.engine import Engine, SearchRequest

    engine = Engine(sample_index)
    try:
        batched = BatchedSearches(engine)
        asked = [QUESTION, "rail strike", QUESTION, QUESTION, "rail strike", QUESTION]
        alone = {q: engine.search(SearchRequest(query=q, k=5)).to_dict() for q in set(asked)}
        replies: dict[int, dict] = {}

        def client(i: int) -> None:
            replies[i] = batched.search(SearchRequest(query=asked[i], k=5)).to_dict()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(asked))]
        with batched._turn:  # the engine is busy: the searches gather in one waiting batch
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while sum(len(b.queries) for b in batched._open.values()) < len(asked):
                assert time.monotonic() < deadline, "the searches did not gather in a batch"
                time.sleep(0.01)
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert batched.batches == 1 and batched.queries_run == 2, (batched.batches, batched.queries_run)
        assert all(replies[i] == alone[q] for i, q in enumerate(asked))
        assert alone[QUESTION]["results"][0]["id"] in NK
    finally:
        engine.close()


def test_shutdown_removes_the_server_file(sample_index, tmp_path):
    index = tmp_path / "ix"
    shutil.copytree(sample_index, index)
    runtime = tmp_path / "run"
    runtime.mkdir()
    server = Server(index, runtime, "--allow-index")
    try:
        assert list(runtime.glob("byline/*.json"))
        status, info = server.get("/status")
        assert info["server"]["allow_index"] is True and "/index" in server.get("/openapi.json")[1]["paths"]
    finally:
        server.stop()
    assert not list(runtime.glob("byline/*.json"))


def test_new_generation_served_without_restart(index_copy, tmp_path):
    """In process: the app keeps one Engine; an article committed by `byline index add` meanwhile
    is found by the next request, and POST /index (with --allow-index) adds one itself."""
    from starlette.testclient import TestClient

    from search.engine import Engine
    from search.frontends.http import build_app

    engine = Engine(index_copy)
    client = TestClient(build_app(engine, TOKEN, allow_index=True, port=8765), base_url="http://127.0.0.1:8765",
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert client.get("/search", params={"q": "lighthouse keepers", "mode": "lexical"}).json()["results"] == []
    generation = client.get("/status").json()["generation"]

    (tmp_path / "a.txt").write_text("Lighthouse keepers strike over pay\nDate: 2024-05-01\n\n"
                                    "The lighthouse keepers of the northern coast walked out on Monday over pay.\n")
    result = CliRunner().invoke(app, ["index", "add", str(tmp_path / "a.txt"), "--index", str(index_copy), "-q"])
    assert result.exit_code == 0, result.output
    found = client.get("/search", params={"q": "lighthouse keepers", "mode": "lexical"}).json()["results"]
    assert [r["id"] for r in found] == ["a.txt"]
    assert client.get("/status").json()["generation"] > generation

    (tmp_path / "b.txt").write_text("Harbour pilots join the lighthouse dispute\nDate: 2024-05-03\n\n"
                                    "Harbour pilots said on Wednesday they would join the keepers' dispute.\n")
    added = client.post("/index", json={"paths": [str(tmp_path / "b.txt")]})
    assert added.status_code == 200 and added.json()["new"] == 1
    found = client.get("/search", params={"q": "harbour pilots", "mode": "lexical"}).json()["results"]
    assert found[0]["id"] == "b.txt"
    assert client.post("/index", json={"paths": []}).status_code == 400


def _browser(profile: Path):
    """A headless Chromium driven by selenium, or a skip naming what is missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver (.ci/run does, as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1200,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_search_page_in_a_real_browser(served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    status, html = served.get("/", token=None)
    assert status == 200 and "<form" in html
    assert 'src="http' not in html and 'href="http' not in html and "@import" not in html  # nothing from a CDN
    browser = _browser(tmp_path / "profile")
    try:
        browser.get(f"{served.url}/#token={TOKEN}")
        browser.find_element(By.ID, "q").send_keys(QUESTION)
        Select(browser.find_element(By.ID, "mode")).select_by_value("hybrid")
        browser.find_element(By.ID, "go").click()
        wait = WebDriverWait(browser, 60)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "li.result")))
        items = browser.find_elements(By.CSS_SELECTOR, "li.result")
        assert items[0].get_attribute("data-id") in NK
        first = items[0]
        assert "preconditions" in first.find_element(By.CSS_SELECTOR, ".answer").text
        assert first.find_elements(By.CSS_SELECTOR, ".passage mark")  # the query's words highlighted
        assert "2022-01-14" in first.find_element(By.CSS_SELECTOR, ".meta").text or "north-korea" in first.text
        assert "results for" in browser.find_element(By.ID, "summary").text
        # A story's copies, folded under it (the rail strike and its copy; the relevance floor
        # keeps unrelated articles, such as that story, out of the mission question's results).
        box = browser.find_element(By.ID, "q")
        box.clear()
        box.send_keys("railway strike")
        browser.find_element(By.ID, "go").click()
        wait.until(lambda b: "railway strike" in b.find_element(By.ID, "summary").text)
        copies = browser.find_elements(By.CSS_SELECTOR, "li.result .copies")
        assert copies and copies[0].text.startswith("+1 copy")
        artifacts = Path(os.environ.get("BYLINE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(artifacts / "serve-page.png"))
        print(f"screenshot: {artifacts / 'serve-page.png'}")

        # A bad query shows the server's message, not a broken page.
        box = browser.find_element(By.ID, "q")
        box.clear()
        box.send_keys("title:(")
        Select(browser.find_element(By.ID, "mode")).select_by_value("lexical")
        browser.find_element(By.ID, "go").click()
        wait.until(lambda b: "bad query" in b.find_element(By.ID, "error").text)
    finally:
        browser.quit()


def test_port_in_use_is_a_clear_error(sample_index, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "XDG_RUNTIME_DIR": str(tmp_path)}
        done = subprocess.run([BYLINE, "serve", "--index", str(sample_index), "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert not list(tmp_path.glob("byline/*.json"))  # no server announced
