"""`byline saved`: name the searches you follow, run them from scripts and cron, see what is new.

The storage (definitions, seen-state, locking) is in `search.saved`; the command line around it is
this group and its commands: saved_definitions_cli (add, edit, rm, export, import), saved_list_cli
(list, show) and saved_run_cli (run), sharing saved_common. Heavy modules are imported inside the
commands, so `--help` stays fast.
"""

from __future__ import annotations

import typer

from search.frontends import saved_definitions_cli, saved_list_cli, saved_run_cli

saved_app = typer.Typer(
    help="Save the searches you follow and run them from scripts or cron; --new shows only what is new.\n\n"
    "Saved searches live in the index folder (saved/searches.json).\n\n"
    "[bold]Examples[/bold]\n\n"
    "  byline saved add sanctions \"sanctions on North Korea\"\n\n"
    "  byline saved run sanctions --new || exit 0",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

# The order of registration is the order of `byline saved --help`.
saved_app.command("add")(saved_definitions_cli.add)
saved_app.command("edit")(saved_definitions_cli.edit)
saved_app.command("list")(saved_list_cli.list_)
saved_app.command("show")(saved_list_cli.show)
saved_app.command("rm")(saved_definitions_cli.rm)
saved_app.command("export")(saved_definitions_cli.export)
saved_app.command("import")(saved_definitions_cli.import_)
saved_app.command("run")(saved_run_cli.run)
