"""`byline mcp`: the index as tools for AI assistants, over the Model Context Protocol.

Built on the official `mcp` SDK (its `MCPServer`, formerly FastMCP). Each tool takes typed,
documented parameters, calls `search.engine.Engine`, and returns the engine's dict as structured
content plus a short text rendering for the model to read. A bad request (a query that does not
parse, an unknown id) is a tool error, never a crash. Read-only unless `allow_index`, which adds
`index_add`.

MCP clients' input is not trusted: tool arguments are validated strictly (`"new": "yes"` is refused,
not taken as true), and on stdio every line is checked before the SDK sees it (`_line_error`), so
a line that is not JSON gets a -32700 reply and a batch or a message that is not JSON-RPC 2.0 a
-32600 reply (the SDK's stdio transport drops them without a word), and the server keeps serving;
over `--http` the same check gives the same -32600 (`_CheckedBodies`).
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations at run time.

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from search.engine import BadRequest, Engine, NotFound, SearchRequest

_SKIP = object()  # a blank line: no message, no reply

Mode = Literal["hybrid", "lexical", "semantic"]
Sort = Literal["relevance", "date"]

INSTRUCTIONS = (
    "byline searches a local collection of news articles, by meaning and by exact words. "
    "Use `search` to find articles (each result has the sentence that answers the query when one "
    "does), `answer` for a one-line answer with its source, `get_article` for an article's full text, "
    "`similar` for articles like one you found, `saved_run` for the user's saved searches "
    "(saved_list names them), and `status` to see what the index holds."
)


def _render_results(data: dict) -> str:
    """A few lines a model reads quickly: rank, title, date, source, id, then the answer or passage."""
    lines = [f"{len(data['results'])} results for {data['query']!r}"]
    for r in data["results"]:
        meta = ", ".join(x for x in (r["date"], r["source"]) if x)
        lines.append(f"{r['rank']}. {r['title']}" + (f" ({meta})" if meta else "") + f" [id: {r['id']}]")
        text = (r["answer"] or {}).get("text") or r["passage"]
        lines.append("   " + " ".join(text.split())[:400])
        if r["duplicates"]:
            lines.append(f"   +{len(r['duplicates'])} copies: " + ", ".join(d["id"] for d in r["duplicates"][:5]))
    return "\n".join(lines)


def build(index_dir: Path, model: "str | None" = None, allow_index: bool = False, engine: "Engine | None" = None):
    """The MCP server for one index (the index is opened now; the model on the first semantic query)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import CallToolResult, TextContent, ToolAnnotations

    engine = engine or Engine(index_dir, model)
    server = MCPServer(name="byline", instructions=INSTRUCTIONS, log_level="WARNING")
    readonly = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def reply(data: dict, text: str) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)

    def guarded(call):
        from index.manifest import IndexProblem

        try:
            return call()
        except (BadRequest, NotFound, IndexProblem) as exc:
            raise ToolError(str(exc)) from None

    # strict=True where pydantic would coerce ("3" or 3.0 to 3, "yes" or 1 to True): a wrong type is
    # the client's to fix. Strings, lists and literals take no coercion from JSON anyway.
    Query = Annotated[str, Field(description="A question in your own words, or keywords; Whoosh syntax works: "
                                             "title:korea, \"exact phrase\", AND/OR/NOT.", max_length=4000)]
    K = Annotated[int, Field(strict=True, description="Number of articles (stories) to return.", ge=1, le=100)]
    ModeArg = Annotated[Mode, Field(description="hybrid (words and meaning), lexical (BM25 only) or semantic.")]
    SourceArg = Annotated[list[str] | None, Field(description="Only articles from these sources (any case).")]
    Since = Annotated[str | None, Field(description="Only articles dated on or after this day (YYYY-MM-DD).")]
    Until = Annotated[str | None, Field(description="Only articles dated on or before this day (YYYY-MM-DD).")]
    SortArg = Annotated[Sort, Field(description="relevance, or date: the relevant articles, newest first.")]
    Id = Annotated[str, Field(description="An article id, as given in results.")]
    Out = Annotated[CallToolResult, dict[str, Any]]

    All = Annotated[bool, Field(description="Also list the results with no evidence for the query (neither its "
                                            "words nor its meaning), which hybrid and semantic search leave out.")]

    def request(query="", k=10, mode="hybrid", source=None, since=None, until=None, sort="relevance", all=False):
        return SearchRequest(query, k, mode, tuple(source or ()), since, until, sort=sort, floor=not all)

    @server.tool(annotations=readonly)
    def search(query: Query, k: K = 10, mode: ModeArg = "hybrid", source: SourceArg = None, since: Since = None,
               until: Until = None, sort: SortArg = "relevance", all: All = False) -> Out:
        """Search the news articles; the best come first, each with the sentence that answers the
        query (when one does), its best passage, its source and date, and its copies."""
        data = guarded(lambda: engine.search(request(query, k, mode, source, since, until, sort, all)).to_dict())
        return reply(data, _render_results(data))

    @server.tool(annotations=readonly)
    def answer(query: Query, mode: ModeArg = "hybrid", source: SourceArg = None, since: Since = None,
               until: Until = None) -> Out:
        """Answer a question in one sentence from the best article (its best passage when no
        sentence answers), with the article's title, date, source and id."""
        data = guarded(lambda: engine.answer(request(query, 1, mode, source, since, until)).to_dict())
        a = data["article"]
        if a is None:
            return reply(data, "no article matches")
        meta = ", ".join(x for x in (a["date"], a["source"]) if x)
        label = "answer" if data["kind"] == "sentence" else "no answer sentence; best passage"
        return reply(data, f"{label}: {data['answer']}\n— {a['title']} ({meta}) [id: {a['id']}]")

    @server.tool(annotations=readonly)
    def get_article(id: Id) -> Out:
        """The full text of one article, with its title, date, source and url."""
        data = guarded(lambda: engine.get_article(id))
        meta = ", ".join(x for x in (data["date"], data["source"]) if x)
        return reply(data, f"{data['title']} ({meta})\n\n{data['text']}")

    @server.tool(annotations=readonly)
    def similar(id: Id, k: K = 10,
                mode: ModeArg = "hybrid", source: SourceArg = None, since: Since = None, until: Until = None,
                sort: SortArg = "relevance") -> Out:
        """Articles most like the given one ("more like this"), without its own copies."""
        data = guarded(lambda: engine.similar(id, request("", k, mode, source, since, until, sort)).to_dict())
        return reply(data, _render_results(data))

    @server.tool(annotations=readonly)
    def saved_list() -> Out:
        """The user's saved searches: name, query and options."""
        rows = guarded(engine.saved_list)
        text = "\n".join(f"{r['name']}: {r['query']}" for r in rows) or "no saved searches"
        return reply({"saved": rows}, text)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False, open_world_hint=False))
    def saved_run(name: Annotated[str, Field(description="A saved search's name (see saved_list).")],
                  new: Annotated[bool, Field(strict=True, description="Only articles not reported by an earlier new=true "
                                                         "run; they are then recorded as reported.")] = False) -> Out:
        """Run one of the user's saved searches."""
        data = guarded(lambda: engine.saved_run(name, new=new).to_dict())
        return reply(data, _render_results(data))

    @server.tool(annotations=readonly)
    def status() -> Out:
        """What the index holds: article and chunk counts, dates, sources, model."""
        data = guarded(engine.status)
        return reply(data, json.dumps(data, indent=1))

    if allow_index:
        @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False))
        def index_add(paths: Annotated[list[str], Field(description="Files or folders on this machine to index "
                                                                     "(.txt .md .html .json .jsonl .csv .xml .rss .atom).")]) -> Out:
            """Add (or update) articles from files and folders; the index switches to them at once."""
            data = guarded(lambda: _index_add(engine, paths))
            return reply(data, f"indexed: {data['new']} new, {data['changed']} changed, {data['unchanged']} unchanged, "
                               f"{len(data['skipped'])} skipped")

    return server


def _index_add(engine: Engine, paths: list[str]) -> dict:
    from index.builder import add_paths
    from index.layout import IndexPaths

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise BadRequest(f"no such file or folder: {', '.join(missing)}")
    report = add_paths(IndexPaths(engine.root), [Path(p) for p in paths], engine.index.embedder)
    return {"new": report.new, "changed": report.changed, "unchanged": report.unchanged, "chunks": report.chunks,
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped]}


def _line_error(line: str):
    """The JSON-RPC error to answer one stdio line with; None for a valid message, _SKIP for a blank line."""
    import mcp_types as types

    if not line.strip():
        return _SKIP
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return _error_reply(None, types.PARSE_ERROR, "Parse error: the line is not JSON")
    if isinstance(data, list):
        return _error_reply(None, types.INVALID_REQUEST, "Invalid Request: batches are not supported; "
                                                         "send one message per line")
    ident = data.get("id") if isinstance(data, dict) else None
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        ident = None
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        return _error_reply(ident, types.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message "
                                                          "(an object with \"jsonrpc\": \"2.0\")")
    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)  # as the SDK's transport does
    except ValueError as exc:
        return _error_reply(ident, types.INVALID_REQUEST, f"Invalid Request: {str(exc).splitlines()[0]}")
    return None


def _error_reply(ident, code: int, message: str):
    import mcp_types as types

    return types.JSONRPCError(jsonrpc="2.0", id=ident, error=types.ErrorData(code=code, message=message))


async def _run_stdio(server) -> None:
    """`server` on stdio: the SDK's transport, fed only lines that are valid messages; the others
    are answered here, through the same outgoing stream as the SDK's replies."""
    import sys
    from io import TextIOWrapper

    import anyio
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    opened = anyio.Event()
    outgoing = {}

    async def checked_lines():
        import mcp_types as types
        from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE as limit  # as over --http

        stdin = TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")

        async def readline(size: int) -> str:  # in a thread, as the SDK reads
            return await anyio.to_thread.run_sync(stdin.readline, size)

        await opened.wait()
        while line := await readline(limit + 1):
            if len(line) > limit and not line.endswith("\n"):  # read no more of it than the limit
                while (rest := await readline(limit)) and not rest.endswith("\n"):
                    pass
                error = _error_reply(None, types.INVALID_REQUEST, f"Invalid Request: a message is at most "
                                                                  f"{limit // 2**20} MB")
            else:
                error = _line_error(line)
            if error is None:
                yield line
            elif error is not _SKIP:
                await outgoing["stream"].send(SessionMessage(error))

    async with stdio_server(stdin=checked_lines()) as (read_stream, write_stream):
        outgoing["stream"] = write_stream
        opened.set()
        # What MCPServer.run_stdio_async does (mcp 2.3), with our stdin in place of the SDK's.
        lowlevel = server._lowlevel_server
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


class _CheckedBodies:
    """ASGI middleware for `--http`: a POSTed body that is JSON but not one JSON-RPC 2.0 message
    (a batch, no "jsonrpc") gets the -32600 reply stdio gives (the SDK answers -32602, Invalid
    params). Anything else, bodies that are not JSON included (the SDK answers -32700), goes on,
    and so does every request the SDK's Host/Origin/Content-Type checks (`security`) refuse."""

    def __init__(self, app, limit: int, security):
        self.app, self.limit, self.security = app, limit, security

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        import mcp_types as types
        from mcp.server.transport_security import TransportSecurityMiddleware
        from starlette.requests import Request
        from starlette.responses import Response

        if await TransportSecurityMiddleware(self.security).validate_request(Request(scope), is_post=True):
            return await self.app(scope, receive, send)  # refused there, as without this middleware

        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body") or size > self.limit:
                break
        error = None
        if size <= self.limit and messages[-1]["type"] == "http.request" and not messages[-1].get("more_body"):
            body = b"".join(m.get("body", b"") for m in messages)
            error = _line_error(body.decode("utf-8", errors="replace"))
        if error is not None and error is not _SKIP and error.error.code == types.INVALID_REQUEST:
            reply = Response(error.model_dump_json(by_alias=True, exclude_unset=True), status_code=400,
                             media_type="application/json")
            return await reply(scope, receive, send)

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _run_http(server, host: str, port: int) -> None:
    """What MCPServer.run_streamable_http_async does (mcp 2.3), with `_CheckedBodies` in front."""
    import uvicorn
    from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings

    # The SDK's own defaults for a loopback host (DNS rebinding protection), given explicitly so
    # that _CheckedBodies applies the same.
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"])
    app = server.streamable_http_app(host=host, transport_security=security)
    app = _CheckedBodies(app, DEFAULT_MAX_REQUEST_BODY_SIZE, security)
    await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).serve()


def run(index_dir: Path, model: str | None, allow_index: bool, http_port: int | None, host: str = "127.0.0.1") -> None:
    import anyio

    server = build(index_dir, model, allow_index)
    if http_port is None:
        anyio.run(_run_stdio, server)
    else:
        anyio.run(_run_http, server, host, http_port)
