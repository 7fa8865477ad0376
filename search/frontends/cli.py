"""The `byline` command line: the top command, its options, and the registration of every command
and command group, each of which lives in its own module (index_cli, search_cli, status_cli,
serve_cli, stories_cli, saved_cli).

Exit status, like grep: 0 when results were found, 1 when none, 2 on usage or index errors.
Heavy modules are imported inside the commands that need them, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from search.frontends import search_cli, serve_cli, status_cli, stories_cli
from search.frontends.cli_common import quiet_stdout
from search.frontends.cli_group import BylineGroup, print_version
from search.frontends.index_cli import index_app

app = typer.Typer(
    cls=BylineGroup,
    name="byline",
    help="Hybrid full-text and semantic search for news articles.\n\n"
    "Index a folder once, then ask questions in your own words or with exact keywords:\n\n"
    "  byline index add ~/news\n\n"
    "  byline search \"who proposed talks without preconditions\"",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True,
                                          help="Print byline's version and exit.")] = False,
) -> None:
    pass

app.add_typer(index_app, name="index")

# The order of registration is the order of `byline --help` (commands first, then the groups).
app.command()(status_cli.doctor)
app.command()(status_cli.status)
app.command()(search_cli.search)
app.command()(search_cli.show)
app.command()(serve_cli.serve)
app.command("mcp")(serve_cli.mcp_command)
app.command()(stories_cli.similar)
app.command()(stories_cli.timeline)

from search.frontends.saved_cli import saved_app  # noqa: E402  (registered after the core commands)
app.add_typer(saved_app, name="saved")


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # outside a command (see BylineGroup): a closed pipe is not an error either
        quiet_stdout()
        sys.exit(0)
