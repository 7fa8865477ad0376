"""The top `byline` command group: what holds for every command rather than one of them.

A reader that goes away (`byline search ... | head -1`) ends any command quietly with status 0;
help reads cleanly at 80 columns; `--version`.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from search.frontends.cli_common import quiet_stdout


class BylineGroup(TyperGroup):
    """The top command. A reader that goes away (`byline search ... | head -1`) is not an error:
    whatever the command, the run ends quietly with status 0 (it used to be 1, "no results")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _readable_help(self)

    def invoke(self, ctx):
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # what is still buffered fails here, not at exit
        except BrokenPipeError:
            quiet_stdout()
            raise typer.Exit(0) from None
        except SystemExit as exc:  # rich's Console turns a closed pipe into SystemExit(1), stdout to /dev/null
            if exc.code == 1 and _stdout_is_devnull():
                raise typer.Exit(0) from None
            raise


def _stdout_is_devnull() -> bool:
    import os

    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError, AttributeError):
        return False


def _readable_help(command) -> None:
    """Help that reads cleanly at 80 columns: Typer's help shows <str>/<int> beside arguments and
    a range like [1<=x<=10000] beside numeric options (a third of the width), and keeps a
    docstring's line breaks (so a paragraph wraps twice). Each value is named after its option
    (--since SINCE), arguments show their name alone (QUERY), ranges are left to the option's
    help and error messages, and paragraphs are joined up (indented lines, the examples, stay as
    they are). Written for Typer 0.28 (pyproject.toml pins it: 0.29 takes 60 ms more to start)."""
    import copy
    import inspect

    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(p if any(line.startswith(" ") for line in p.splitlines())
                                     else " ".join(p.split("\n")) for p in paragraphs)
    get_params = command.get_params

    def labelled_params(ctx):
        params = get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", True) is False and param.metavar is None:  # an option taking a value
                param.metavar = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
            elif param.param_type_name == "argument" and not getattr(param, "_labelled", False):
                param.metavar = param.metavar or (param.name or "").upper()
                param.type = copy.copy(param.type)  # its own copy: the type is shared by other commands
                param.type.get_metavar = lambda *args, **kwargs: ""
                param._labelled = True
        return params

    command.get_params = labelled_params
    format_help = command.format_help

    def help_without_ranges(ctx, formatter):
        from typer import rich_utils  # 50 ms of imports (rich's Markdown): only when help is shown

        rich_utils.RANGE_STRING = ""  # the help panel's range column; errors still name the range
        return format_help(ctx, formatter)

    command.format_help = help_without_ranges
    for sub in getattr(command, "commands", {}).values():
        _readable_help(sub)


def print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"byline {version('byline')}")
        except PackageNotFoundError:
            typer.echo("byline (not installed as a package)")
        raise typer.Exit()
