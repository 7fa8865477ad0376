"""`byline mcp`: a real MCP client session (the official SDK's `Client`) over stdio, against a
real `byline mcp --index ...` subprocess on a copy of the sample index."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from typer.testing import CliRunner

from search.frontends.cli import app

from conftest import NK, ROOT

BYLINE = str(Path(sys.executable).with_name("byline"))
QUESTION = "who proposed talks without preconditions"


def _params(index: Path, *extra: str):
    from mcp.client.stdio import StdioServerParameters

    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HOME": os.environ.get("HOME", "/tmp")}
    return StdioServerParameters(command=BYLINE, args=["mcp", "--index", str(index), *extra], env=env)


def _session(index: Path, script, *extra: str):
    """Run `script(client)` in one client session with a fresh server."""
    from mcp import Client

    async def main():
        async with Client(_params(index, *extra)) as client:
            return await script(client)

    return asyncio.run(asyncio.wait_for(main(), 120))


def test_mcp_tools_over_stdio(index_copy):
    result = CliRunner().invoke(app, ["saved", "add", "nk", "North Korea talks", "--index", str(index_copy)])
    assert result.exit_code == 0, result.output

    async def script(client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        out = {"tools": tools}
        for name, args in [
            ("search", {"query": QUESTION, "k": 3}),
            ("search_lexical", {"query": "preconditions", "mode": "lexical", "sort": "date"}),
            ("answer", {"query": QUESTION}),
            ("status", {}),
            ("saved_list", {}),
            ("saved_run_new", {"name": "nk", "new": True}),
            ("saved_run_again", {"name": "nk", "new": True}),
            ("bad_query", {"query": "title:(", "mode": "lexical"}),
            ("bad_date", {"query": "talks", "since": "last tuesday"}),
            ("bad_k", {"query": "talks", "k": 0}),
            ("unknown_article", {"id": "no-such-article"}),
            ("unknown_saved", {"name": "nope"}),
            ("new_as_string", {"name": "nk", "new": "yes"}),  # wrong types are refused, not coerced
            ("new_as_number", {"name": "nk", "new": 1}),
            ("k_as_string", {"query": "talks", "k": "3"}),
            ("k_as_float", {"query": "talks", "k": 3.0}),
        ]:
            tool = {"search_lexical": "search", "saved_run_new": "saved_run", "saved_run_again": "saved_run",
                    "bad_query": "search", "bad_date": "search", "bad_k": "search",
                    "unknown_article": "get_article", "unknown_saved": "saved_run", "new_as_string": "saved_run",
                    "new_as_number": "saved_run", "k_as_string": "search", "k_as_float": "search"}.get(name, name)
            out[name] = await client.call_tool(tool, args)
        top = out["search"].structured_content["results"][0]["id"]
        out["get_article"] = await client.call_tool("get_article", {"id": top})
        out["similar"] = await client.call_tool("similar", {"id": top, "k": 3})
        return out

    out = _session(index_copy, script)
    tools = out["tools"]
    assert set(tools) == {"search", "answer", "get_article", "similar", "saved_list", "saved_run", "status"}
    assert "index_add" not in tools  # read-only without --allow-index
    props = tools["search"].input_schema["properties"]
    assert {"query", "k", "mode", "source", "since", "until", "sort"} <= set(props)
    assert props["mode"]["enum"] == ["hybrid", "lexical", "semantic"] and props["query"]["description"]

    found = out["search"]
    assert not found.is_error
    results = found.structured_content["results"]
    assert results[0]["id"] in NK and len(results) <= 3
    assert results[0]["answer"]["text"] and "preconditions" in found.content[0].text
    assert not out["search_lexical"].is_error and out["search_lexical"].structured_content["results"]

    answer = out["answer"].structured_content
    assert answer["kind"] == "sentence" and "precondition" in answer["answer"]
    assert answer["article"]["id"] in NK and answer["answer"] in out["answer"].content[0].text

    article = out["get_article"].structured_content
    assert article["id"] == results[0]["id"] and len(article["text"]) > 500
    like = out["similar"].structured_content["results"]
    assert like and all(r["id"] != article["id"] for r in like)

    status = out["status"].structured_content
    assert status["articles"] >= 20 and status["model"]
    assert [s["name"] for s in out["saved_list"].structured_content["saved"]] == ["nk"]
    first = out["saved_run_new"].structured_content["results"]
    assert first and out["saved_run_new"].structured_content["name"] == "nk"
    assert out["saved_run_again"].structured_content["results"] == []  # all seen by the first run

    for name, words in [("bad_query", "bad query"), ("bad_date", "not a date"), ("bad_k", "k"),
                        ("unknown_article", "no article"), ("unknown_saved", "no saved search")]:
        reply = out[name]
        assert reply.is_error, name
        assert words in reply.content[0].text, (name, reply.content[0].text)
    for name, words in [("new_as_string", "valid boolean"), ("new_as_number", "valid boolean"),
                        ("k_as_string", "valid integer"), ("k_as_float", "valid integer")]:
        reply = out[name]
        assert reply.is_error and words in reply.content[0].text, (name, reply)


def test_mcp_stdio_answers_garbage_and_keeps_serving(sample_index):
    """Lines that are not JSON get -32700, a batch or a message that is not JSON-RPC 2.0 gets -32600
    (with its id when it has one), and the server answers the next valid request."""
    import json
    import queue
    import subprocess
    import threading

    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HOME": os.environ.get("HOME", "/tmp")}
    proc = subprocess.Popen([BYLINE, "mcp", "--index", str(sample_index)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def exchange(text: str) -> dict:
        proc.stdin.write(text + "\n")
        proc.stdin.flush()
        return json.loads(lines.get(timeout=60))

    init = {"jsonrpc": "2.0", "id": 10, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}
    try:
        replies = [exchange(text) for text in [
            "garbage{{{",
            "[" * 5000 + "]" * 5000,
            json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]),
            json.dumps({"id": 2, "method": "ping"}),
            json.dumps({"jsonrpc": "1.0", "id": "three", "method": "ping"}),
            json.dumps({"jsonrpc": "2.0", "id": 4}),
            "42",
            json.dumps({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"pad": "x" * 5_000_000}}),
            json.dumps(init),
        ]]
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        ping = exchange(json.dumps({"jsonrpc": "2.0", "id": 11, "method": "ping"}))
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    codes = [(r.get("id"), r.get("error", {}).get("code")) for r in replies]
    assert codes == [(None, -32700), (None, -32700), (None, -32600), (2, -32600), ("three", -32600), (4, -32600),
                     (None, -32600), (None, -32600), (10, None)], replies  # 5 MB: over the limit
    assert replies[-1]["result"]["serverInfo"]["name"] == "byline"
    assert ping == {"jsonrpc": "2.0", "id": 11, "result": {}}


def test_mcp_allow_index_adds_articles(index_copy, tmp_path):
    (tmp_path / "new.txt").write_text("Lighthouse keepers strike over pay\nDate: 2024-05-01\n\n"
                                      "The lighthouse keepers of the northern coast walked out on Monday over pay.\n")

    async def script(client):
        names = {t.name for t in (await client.list_tools()).tools}
        added = await client.call_tool("index_add", {"paths": [str(tmp_path / "new.txt")]})
        found = await client.call_tool("search", {"query": "lighthouse keepers strike", "k": 1, "mode": "lexical"})
        missing = await client.call_tool("index_add", {"paths": [str(tmp_path / "absent.txt")]})
        return names, added, found, missing

    names, added, found, missing = _session(index_copy, script, "--allow-index")
    assert "index_add" in names
    assert not added.is_error and added.structured_content["new"] == 1
    assert found.structured_content["results"][0]["id"] == "new.txt"  # the engine reopened the new generation
    assert missing.is_error and "no such file" in missing.content[0].text


def test_mcp_streamable_http(sample_index):
    """`byline mcp --http PORT`: the same tools over streamable HTTP on 127.0.0.1."""
    import socket
    import subprocess
    import time

    from mcp import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([BYLINE, "mcp", "--http", str(port), "--index", str(sample_index)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    async def script():
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            return names, await client.call_tool("search", {"query": QUESTION, "k": 1})

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "timeout"
                time.sleep(0.2)
        names, found = asyncio.run(asyncio.wait_for(script(), 60))
        replies = [_post(port, body, headers) for body, headers in [
            (b"garbage{{{", {}),
            (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', {}),
            (b'{"id": 2, "method": "ping"}', {}),
            (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', {"Host": f"rebind.evil.example:{port}"}),
            (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', {"Origin": "http://evil.example"}),
        ]]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "search" in names and "index_add" not in names
    assert found.structured_content["results"][0]["id"] in NK
    # Bad messages get the JSON-RPC codes stdio gives; foreign Host and Origin are still refused first.
    assert [(status, body.get("id"), body.get("error", {}).get("code")) for status, body in replies[:3]] == [
        (400, None, -32700), (400, None, -32600), (400, 2, -32600)], replies
    assert [status for status, _ in replies[3:]] == [421, 403], replies


def _post(port: int, body: bytes, headers: dict) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request

    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", body, h, method="POST")
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as reply:
            status, data = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, {"text": data.decode()}


def test_mcp_index_add_is_stdio_only(sample_index):
    """Over --http there is no token: any local process could index files through index_add."""
    done = CliRunner().invoke(app, ["mcp", "--http", "8766", "--allow-index", "--index", str(sample_index)])
    assert done.exit_code == 2 and "--allow-index is for stdio only" in done.output
