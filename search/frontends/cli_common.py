"""Pieces shared by the `byline` commands: common options and error reporting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from index.models import DEFAULT_MODEL, MODELS
from search.engine import search_options  # noqa: F401  (validation lives in the engine)

IndexOpt = Annotated[Optional[Path], typer.Option(
    "--index", metavar="DIR", envvar="BYLINE_INDEX", show_envvar=True,
    help="Index folder (default: ~/.local/share/byline/index).", show_default=False)]
ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", metavar="NAME",
    help=f"{', '.join(MODELS)} or a sentence-transformers model folder. An index uses the model it was "
         f"built with; a new one uses $BYLINE_MODEL, else {DEFAULT_MODEL}.", show_default=False)]


def error(message: str) -> None:
    """Report a problem on stderr and carry on (e.g. one saved search among several)."""
    from index.controls import shown

    typer.echo(f"byline: error: {shown(message)}", err=True)


def fail(message: str) -> NoReturn:
    """Report a problem and stop with exit status 2."""
    error(message)
    raise typer.Exit(2)


def stdout_failed(exc: OSError) -> NoReturn:
    """Standard output cannot be written (a full disk, /dev/full): say so and exit 2, with
    stdout pointed at /dev/null so the unwritten rest does not fail again when Python exits."""
    quiet_stdout()
    fail(f"cannot write the results to standard output ({exc.strerror or exc})")


def quiet_stdout() -> None:
    """Point standard output at /dev/null, so output that can no longer be written (a closed
    pipe, a full disk) does not fail again when Python flushes it at exit."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. under a test runner)
        pass


def index_dir(index: Path | None) -> Path:
    from index.layout import default_index_dir

    return index or default_index_dir()


def output_format(fmt: str | None) -> str:
    """The requested format, or table on a terminal and JSON when piped."""
    import sys

    from search.rendering.output import FORMATS

    fmt = fmt or ("table" if sys.stdout.isatty() else "json")
    if fmt not in FORMATS:
        raise ValueError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt
