"""`byline serve` and `byline mcp`: check their options and start the HTTP server or the Model
Context Protocol server (search.frontends.http, search.frontends.mcp_server) on an index.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from search.frontends.cli_common import IndexOpt, ModelOpt, fail, index_dir


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; the default serves this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8765,
    token: Annotated[Optional[str], typer.Option(envvar="BYLINE_TOKEN", help="Require `Authorization: Bearer TOKEN` on every API call (the page: open /#token=TOKEN).", show_default=False)] = None,
    allow_index: Annotated[bool, typer.Option("--allow-index", help="Add the write endpoint POST /index (the server is read-only without it); needs --token.")] = False,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Serve the index over HTTP: a search page at / and a JSON API (/search, /answer, /similar,
    /articles/ID, /saved, /saved/NAME/run, /saved/NAME.atom, /status; /openapi.json describes it).

    The index is opened and the model loaded once; a newly committed generation (byline index
    add) is picked up without a restart. While it runs, `byline search` on the same index asks it
    (use --no-server to skip).

    [bold]Examples[/bold]

      byline serve

      byline serve --port 9000 --token "$(openssl rand -hex 16)"

      curl 'http://127.0.0.1:8765/search?q=rail+strike&k=3'
    """
    from index.manifest import IndexProblem
    from search.frontends import http

    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        typer.echo(f"byline: warning: serving on {host} without --token: anyone who can reach it can search", err=True)
    try:
        http.serve(index_dir(index), model, host, port, token, allow_index)
    except (IndexProblem, http.UnsafeOptions) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def mcp_command(
    http: Annotated[Optional[int], typer.Option("--http", metavar="PORT", help="Serve streamable HTTP on 127.0.0.1:PORT (at /mcp) instead of stdio.", show_default=False)] = None,
    allow_index: Annotated[bool, typer.Option("--allow-index", help="Also expose the index_add tool (the server is read-only without it).")] = False,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Serve the index to AI assistants over the Model Context Protocol (stdio by default).

    Tools: search, answer, get_article, similar, saved_list, saved_run, status (and index_add with
    --allow-index). Add it to an MCP client's configuration, e.g.:

      {"mcpServers": {"byline": {"command": "byline",
                                 "args": ["mcp", "--index", "/home/me/news-index"]}}}

    [bold]Examples[/bold]

      byline mcp --index ~/news-index

      byline mcp --http 8765
    """
    from index.manifest import IndexProblem
    from search.frontends import mcp_server

    if http is not None and not 0 < http < 65536:
        fail("--http takes a port number between 1 and 65535")
    if http is not None and allow_index:
        # MCP over HTTP has no token here: any local process could index files through it.
        fail("--allow-index is for stdio only: over --http any local process could reach index_add; "
             "run `byline mcp --allow-index` from the assistant's configuration instead")
    try:
        mcp_server.run(index_dir(index), model, allow_index, http)
    except IndexProblem as exc:
        fail(str(exc))
