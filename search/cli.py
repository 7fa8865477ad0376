"""Kept so `from search.cli import main` (console scripts installed before the front ends moved
to `search.frontends`) still starts byline; the command line lives in search/frontends/cli.py."""

from search.frontends.cli import app, main  # noqa: F401
