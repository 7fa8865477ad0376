"""`byline serve`: a local HTTP API (JSON) and a search page, on Starlette and uvicorn.

The index is opened once and the model loaded once (`search.engine.Engine`, which also switches
to a newly committed generation by itself). Endpoints mirror the command line:

  GET  /search?q=...&k=&mode=&source=&since=&until=&sort=&fusion=&collapse=&recent=&half_life=&all=
  POST /search            the same as a JSON object; {"queries": [...]} runs several (byline search)
  GET  /answer?q=...      the answer sentence of the top result (else its best passage)
  GET  /similar?id=...    articles like one, with the search options
  GET  /articles/{id}     an article's full text
  GET  /saved             the saved searches;  GET|POST /saved/{name}/run (POST ?new=true records)
  GET  /saved/{name}.atom an Atom feed of a saved search
  GET  /status            what the index holds
  POST /index             {"paths": [...]}: only with --allow-index
  GET  /openapi.json      this API described;  GET /  the search page

Errors are JSON {"error": message} with a status code (400 bad request, 401 token, 403 another
site's request, 404 unknown, 405, 413/414 too large or too much work for one request, 415 a POST
that is not JSON, 421 a Host this server does not serve, 503 index unreadable). With a token, every
API call needs `Authorization: Bearer TOKEN` (the page reads it from its URL: /#token=TOKEN).

Web pages in the user's browser are not trusted (see `_Guard`): a request must name this server
in its Host header (so a DNS-rebound name is refused), must not come from another origin or site,
and a POST must be `application/json` (a form or a `text/plain` fetch cannot send that without a
CORS preflight, which this server never grants). `--allow-index` needs a token, on any address.
One request gets bounded work: at most MAX_QUERIES queries, MAX_RESULTS results over them, and a
reply of at most MAX_REPLY_BYTES; several queries are run a few at a time so other clients are
served in between, and concurrent searches of the same options are run as one
(`search.batched`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from index.manifest import IndexProblem
from search.engine import MAX_K, BadRequest, Engine, NotFound, SearchRequest
from search.ranking.fusion import DEFAULT_FUSION

MAX_BODY_BYTES = 64 * 1024
MAX_QUERY_STRING = 8 * 1024
MAX_QUERIES = 100  # queries in one request (`byline search --queries` falls back to searching itself)
MAX_RESULTS = 1000  # k x queries in one request
MAX_REPLY_BYTES = 16 * 1024 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WILDCARD = ("0.0.0.0", "::", "")
PAGE = Path(__file__).with_name("page.html")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Problem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class UnsafeOptions(ValueError):
    """Server options that would expose the machine (the message says which and why)."""


def check_options(host: str, token: str | None, allow_index: bool) -> None:
    """Refuse --allow-index without --token, on loopback too: any local program, and any web page
    the user visits, can reach a loopback port; only a secret it cannot know keeps writes theirs
    (Jupyter and Datasette require one the same way)."""
    if allow_index and not token:
        raise UnsafeOptions("--allow-index needs --token (or $BYLINE_TOKEN): without one, any program or web page "
                            f"that reaches {host} could index files of this machine")


def _flag(value, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise BadRequest(f"{name} must be true or false, not {value!r}")


def _number(value, name: str, default, kind=int):
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a number, not {value!r}") from None


def _params(request: Request, body: dict | None) -> dict:
    """The request's parameters: the query string's, then the JSON body's (a POST) over them."""
    q = request.query_params
    out = {key: q.get(key) for key in q.keys()}
    if "source" in q:
        out["source"] = q.getlist("source")
    return {**out, **(body or {})}


def search_request(p: dict, query_required: bool = True) -> SearchRequest:
    """A SearchRequest from request parameters (the engine validates the values)."""
    query = p.get("q", p.get("query", ""))
    if query_required and not p.get("queries") and (not isinstance(query, str) or not query.strip()):
        raise BadRequest("give a query: ?q=... (or \"query\" in a JSON body)")
    source = p.get("source") or []
    if isinstance(source, str):
        source = [source]
    if not isinstance(source, list) or not all(isinstance(s, str) for s in source):
        raise BadRequest("source must be a list of names")
    for key in ("mode", "since", "until", "sort", "fusion"):
        if p.get(key) is not None and not isinstance(p[key], str):
            raise BadRequest(f"{key} must be a string")
    return SearchRequest(
        query=query if isinstance(query, str) else "", k=_number(p.get("k"), "k", 10),
        mode=p.get("mode") or "hybrid", source=tuple(source), since=p.get("since") or None,
        until=p.get("until") or None, fusion=p.get("fusion") or DEFAULT_FUSION,
        collapse=_flag(p.get("collapse"), "collapse", True), sort=p.get("sort") or "relevance",
        recent=_flag(p.get("recent"), "recent", False),
        half_life=_number(p.get("half_life"), "half_life", 30.0, float),
        floor=_flag(p.get("floor"), "floor", True) and not _flag(p.get("all"), "all", False))


def _work_limit(k: int, queries: int = 1) -> None:
    """413 when one request asks for more results than a request may (the CLI then searches itself)."""
    if queries > MAX_QUERIES:
        raise _Problem(413, f"{queries} queries in one request; the limit is {MAX_QUERIES}: send them in parts")
    if isinstance(k, int) and k * queries > MAX_RESULTS:
        raise _Problem(413, f"k x queries is {k * queries:,} results in one request; the limit is {MAX_RESULTS:,}")


def _json_reply(result) -> Response:
    """The reply as JSON, refused (413) when it is over MAX_REPLY_BYTES."""
    if isinstance(result, Response):
        return result
    reply = JSONResponse(result)
    if len(reply.body) > MAX_REPLY_BYTES:
        raise _Problem(413, f"the reply would be over {MAX_REPLY_BYTES // 2**20} MB; ask for fewer results")
    return reply


def build_app(engine: Engine, token: str | None = None, allow_index: bool = False, lifespan=None,
              host: str = "127.0.0.1", port: int = 8765) -> Starlette:
    """The ASGI app serving `engine` on `host`:`port` (the names its requests must carry)."""
    from search.batched import BatchedSearches

    check_options(host, token, allow_index)
    served = {"searches": 0}  # shown in /status: how many searches this server answered
    batched = BatchedSearches(engine)  # concurrent searches with the same options run as one
    async def body_of(request: Request) -> dict | None:
        if request.method != "POST":
            return None
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > MAX_BODY_BYTES:
            raise _Problem(413, f"the request body is over {MAX_BODY_BYTES // 1024} KB")
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise _Problem(413, f"the request body is over {MAX_BODY_BYTES // 1024} KB")
        if not data.strip():
            return {}
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise BadRequest(f"the body is not JSON ({exc})") from None
        except RecursionError:
            raise BadRequest("the body is JSON nested too deeply") from None
        if not isinstance(parsed, dict):
            raise BadRequest("the body must be a JSON object")
        return parsed

    def endpoint(work):
        """An endpoint: check the token, parse the body, run `work` off the event loop, reply JSON."""
        async def handler(request: Request):
            try:
                if token is not None and not _authorised(request, token):
                    raise _Problem(401, "a token is needed: send Authorization: Bearer TOKEN")
                params = _params(request, await body_of(request))
                result = await run_in_threadpool(lambda: _json_reply(work(request, params)))
            except _Problem as exc:
                return _error(exc.status, str(exc))
            except BadRequest as exc:
                return _error(400, str(exc))
            except NotFound as exc:
                return _error(404, str(exc))
            except IndexProblem as exc:
                return _error(503, str(exc))
            return result
        return handler

    def search(request: Request, p: dict):
        req = search_request(p)
        wire = _flag(p.get("wire"), "wire", False)
        limit = p.get("answer_limit")
        if limit is not None and not isinstance(limit, int):
            raise BadRequest("answer_limit must be a number")
        queries = p.get("queries")
        if queries is not None:  # several queries (`byline search --queries` through the server)
            if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
                raise BadRequest("queries must be a list of strings")
            _work_limit(req.k, len(queries))
            served["searches"] += 1
            responses = batched.search_many(queries, req, answer_limit=limit)
            return {"responses": [r.to_dict(wire) for r in responses]}
        _work_limit(req.k)
        served["searches"] += 1
        return batched.search(req, answer_limit=limit).to_dict(wire)

    def answer(request: Request, p: dict):
        return engine.answer(search_request(p)).to_dict()

    def similar(request: Request, p: dict):
        article_id = p.get("id")
        if not isinstance(article_id, str) or not article_id:
            raise BadRequest("give the article: ?id=ARTICLE_ID")
        req = search_request(p, query_required=False)
        _work_limit(req.k)
        return engine.similar(article_id, req).to_dict()

    def article(request: Request, p: dict):
        return engine.get_article(request.path_params["id"])

    def saved(request: Request, p: dict):
        return {"saved": engine.saved_list()}

    def saved_run(request: Request, p: dict):
        new = _flag(p.get("new"), "new", False)
        if new and request.method != "POST":
            raise _Problem(405, "new=true records what was reported: use POST")
        return engine.saved_run(request.path_params["name"], new=new).to_dict()

    def saved_atom(request: Request, p: dict):
        from search.rendering import atom

        name = request.path_params["name"]
        response = engine.saved_run(name)
        text = atom.feed(name, response.query, response.results, self_url=str(request.url.replace(query="")))
        return Response(text, media_type="application/atom+xml; charset=utf-8")

    def status(request: Request, p: dict):
        return {**engine.status(), "server": {"searches": served["searches"], "batches": batched.batches,
                                              "queries_run": batched.queries_run,
                                              "allow_index": allow_index}}

    def index_add(request: Request, p: dict):
        from search.frontends.mcp_server import _index_add

        paths = p.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(x, str) for x in paths):
            raise BadRequest("give {\"paths\": [\"FILE or FOLDER\", ...]}")
        return _index_add(engine, paths)

    async def page(request: Request):
        return Response(PAGE.read_text(encoding="utf-8"), media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                            "script-src 'self' 'unsafe-inline'; img-src 'self' data:"})

    async def openapi(request: Request):
        return JSONResponse(_openapi(allow_index))

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/search", endpoint(search), methods=["GET", "POST"]),
        Route("/answer", endpoint(answer), methods=["GET", "POST"]),
        Route("/similar", endpoint(similar), methods=["GET", "POST"]),
        Route("/articles/{id:path}", endpoint(article), methods=["GET"]),
        Route("/saved", endpoint(saved), methods=["GET"]),
        Route("/saved/{name}.atom", endpoint(saved_atom), methods=["GET"]),
        Route("/saved/{name}/run", endpoint(saved_run), methods=["GET", "POST"]),
        Route("/status", endpoint(status), methods=["GET"]),
    ]
    if allow_index:
        routes.append(Route("/index", endpoint(index_add), methods=["POST"]))

    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, exc.detail or "error")

    async def server_error(request: Request, exc: Exception):
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error},
                    lifespan=lifespan)
    return _Guard(app, host, port)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class _Guard:
    """ASGI middleware, before any routing: refuse an over-long query string (414), a Host that is
    not this server (421: DNS rebinding), a request from another origin or site (403: cross-site
    requests), and a POST that is not application/json (415: forms and simple requests)."""

    def __init__(self, app, host: str, port: int):
        self.app, self.port = app, port
        self.any_ip = host in _WILDCARD  # served on every address: an IP literal cannot be rebound
        # Any port, as Jupyter does: a tunnel (ssh -L 9000:127.0.0.1:8765) changes it, and a
        # rebinding page cannot send a loopback name; another port's page is refused by Origin.
        self.names = {f"[{n}]" if ":" in n else n.lower() for n in (*LOOPBACK, *(() if self.any_ip else (host,)))}

    def _host_ok(self, value: str) -> bool:
        value = value.lower()
        if value.startswith("["):
            name, bracket, port = value.partition("]")
            if not bracket or (port and not port.startswith(":")):
                return False
            name, port = name + "]", port[1:]
        else:
            name, _, port = value.partition(":")
        if not name or not (port == "" or port.isdigit()):
            return False
        return name in self.names or (self.any_ip and _is_ip(name))

    def _refusal(self, scope) -> tuple[int, str] | None:
        if len(scope.get("query_string", b"")) > MAX_QUERY_STRING:
            return 414, f"the query string is over {MAX_QUERY_STRING // 1024} KB"
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self._host_ok(host):
            return 421, (f"this server does not serve the host {host!r}; use http://127.0.0.1:{self.port}/ "
                         "(or the address given to --host)")
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host.lower()}":
            return 403, f"requests from another origin ({origin}) are refused"
        if (headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")
                and headers.get("sec-fetch-mode") != "navigate"):  # a link to the page is fine
            return 403, "requests from another site are refused"
        if scope["method"] == "POST":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return 415, "a POST must have Content-Type: application/json"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await _error(*refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def _openapi(allow_index: bool) -> dict:
    """The API described in OpenAPI 3.1."""
    def q(name, kind="string", desc="", required=False, many=False):
        schema = {"type": "array", "items": {"type": kind}} if many else {"type": kind}
        return {"name": name, "in": "query", "required": required, "description": desc, "schema": schema}

    options = [
        q("k", "integer", f"number of articles (1-{min(MAX_K, MAX_RESULTS)}; k x queries at most {MAX_RESULTS})"),
        q("mode", desc="hybrid, lexical or semantic"),
        q("source", desc="only these sources (repeatable)", many=True), q("since", desc="YYYY-MM-DD"),
        q("until", desc="YYYY-MM-DD"), q("sort", desc="relevance or date"), q("fusion", desc="rrf or convex"),
        q("collapse", "boolean", "fold copies of a story (default true)"), q("recent", "boolean", "boost newer"),
        q("half_life", "number", "days, with recent"),
        q("all", "boolean", "also list results with no evidence for the query (default false)"),
    ]
    query = q("q", desc="the question or keywords", required=True)
    ok = {"200": {"description": "results", "content": {"application/json": {"schema": {"type": "object"}}}},
          "400": {"description": "bad request ({\"error\": ...})"}}
    paths = {
        "/search": {"get": {"summary": "Search", "parameters": [query, *options], "responses": ok},
                    "post": {"summary": "Search (JSON body with the same fields; \"queries\" for several)",
                             "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                             "responses": ok}},
        "/answer": {"get": {"summary": "The answer sentence of the top result", "parameters": [query, *options[1:5]],
                            "responses": ok}},
        "/similar": {"get": {"summary": "Articles like one", "parameters": [q("id", required=True), *options],
                             "responses": {**ok, "404": {"description": "no such article"}}}},
        "/articles/{id}": {"get": {"summary": "An article's full text", "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {**ok, "404": {"description": "no such article"}}}},
        "/saved": {"get": {"summary": "The saved searches", "responses": ok}},
        "/saved/{name}/run": {
            "get": {"summary": "Run a saved search", "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}], "responses": ok},
            "post": {"summary": "Run a saved search; new=true: only what is new, then recorded", "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                q("new", "boolean")], "responses": ok}},
        "/saved/{name}.atom": {"get": {"summary": "An Atom feed of a saved search", "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Atom", "content": {"application/atom+xml": {}}}}}},
        "/status": {"get": {"summary": "What the index holds", "responses": ok}},
    }
    if allow_index:
        paths["/index"] = {"post": {"summary": "Index files or folders: {\"paths\": [...]}", "responses": ok}}
    return {"openapi": "3.1.0", "info": {"title": "byline", "version": "0.1.0",
                                         "description": "Hybrid full-text and semantic search of news articles."},
            "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
            "paths": paths}


def serve(index_dir: Path, model: str | None, host: str, port: int, token: str | None, allow_index: bool,
          announce: bool = True) -> None:
    """Open the index, load the model, and serve until interrupted; announce the server for
    `byline search` while it runs."""
    import contextlib
    import sys

    import uvicorn

    from search.frontends import discovery

    check_options(host, token, allow_index)
    engine = Engine(index_dir, model)
    engine.warm()
    reach = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        # Withdrawn here, not after server.run(): uvicorn re-raises SIGTERM once it has shut down.
        if announce:
            discovery.announce(engine.root, reach, port, token)
        try:
            yield
        finally:
            if announce:
                discovery.withdraw(engine.root)

    app = build_app(engine, token, allow_index, lifespan, host, port)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            limit_concurrency=64, timeout_keep_alive=5)
    server = uvicorn.Server(config)
    print(f"byline: opened {engine.root}; listening on http://{host}:{port}/ (Ctrl-C stops)", file=sys.stderr,
          flush=True)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind, after logging why
        if not server.started:
            raise OSError("the address is in use or not available; choose another with --port") from None
        raise
    finally:
        if announce:
            discovery.withdraw(engine.root)
