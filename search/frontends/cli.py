"""The `byline` command line: the top command, its options, and the registration of every command
and command group, each of which lives in its own module (index_cli, search_cli, status_cli,
serve_cli, stories_cli, saved_cli).

A run registers only the command it was asked for (`byline search ...` builds the search command
alone, not the other commands and groups, whose modules it then never imports): building Typer's whole tree
took a fifth of a cold `byline search` through a running server (docs/serve.md). `byline`,
`byline --help`, an unknown name and shell completion get the whole tree; `app` (for tests and
embedding) is the whole tree too.

Exit status, like grep: 0 when results were found, 1 when none, 2 on usage or index errors.
Heavy modules are imported inside the commands that need them, so `--help` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

from search.frontends.cli_common import quiet_stdout
from search.frontends.cli_group import BylineGroup, print_version

# In the order of `byline --help`: name, module in search.frontends, attribute; a group is a Typer app.
GROUPS_FIRST = (("index", "index_cli", "index_app"),)
COMMANDS = (("doctor", "status_cli", "doctor"), ("status", "status_cli", "status"),
            ("search", "search_cli", "search"), ("show", "search_cli", "show"),
            ("serve", "serve_cli", "serve"), ("mcp", "serve_cli", "mcp_command"),
            ("similar", "stories_cli", "similar"), ("timeline", "stories_cli", "timeline"))
GROUPS_LAST = (("saved", "saved_cli", "saved_app"),)
NAMES = frozenset(name for name, _, _ in (*GROUPS_FIRST, *COMMANDS, *GROUPS_LAST))


def _options(
    version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True,
                                          help="Print byline's version and exit.")] = False,
) -> None:
    pass


def build_app(only: str | None = None) -> typer.Typer:
    """The `byline` app with every command, or with the command or group named `only` alone."""
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
    app.callback()(_options)

    def wanted(name: str, module: str, attribute: str):
        if only is None or only == name:
            return getattr(importlib.import_module(f"search.frontends.{module}"), attribute)
        return None

    for name, module, attribute in GROUPS_FIRST:
        if (group := wanted(name, module, attribute)) is not None:
            app.add_typer(group, name=name)
    for name, module, attribute in COMMANDS:
        if (command := wanted(name, module, attribute)) is not None:
            app.command(name)(command)
    for name, module, attribute in GROUPS_LAST:
        if (group := wanted(name, module, attribute)) is not None:
            app.add_typer(group, name=name)
    return app


def __getattr__(name: str):
    if name == "app":  # the whole tree, built on first use
        globals()["app"] = full = build_app()
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    asked = sys.argv[1] if len(sys.argv) > 1 else None
    completing = any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ)
    try:
        build_app(asked if asked in NAMES and not completing else None)()
    except BrokenPipeError:  # outside a command (see BylineGroup): a closed pipe is not an error either
        quiet_stdout()
        sys.exit(0)
