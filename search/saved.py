"""Saved searches: named queries with their options, kept inside the index folder.

Layout, under `<index>/saved/`:

- `searches.json`: the definitions, pretty-printed with sorted keys so people can read, edit and
  version them: `{"version": 1, "searches": {NAME: {"query": ..., "mode": ..., ...}}}`.
- `state/NAME.json`: the ids of the articles that `run --new` has already reported.
- `.lock`: taken with flock around every read-modify-write.

Every write goes to a temporary file in the same folder, is fsynced and then renamed over the
old file, so a reader never sees half a file and readers need no lock. Writers hold the lock, so
two overlapping runs (cron) never lose each other's changes.
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from index import controls
from index.manifest import write_atomic
from search.ranking.fusion import DEFAULT_FUSION

FILE_VERSION = 1
# No leading "-": the name could not be typed as an argument without being taken for an option.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


class SavedError(ValueError):
    """A saved search, or a saved-searches file, that cannot be used; the message says why."""


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise SavedError(
            f"bad name {name!r}: use letters, digits, '-' and '_' only, not starting with '-', "
            "at most 64 characters (e.g. north-korea_sanctions)")
    return name


@dataclass
class SavedSearch:
    """One saved search: the query and the same options as `byline search`."""

    name: str
    query: str
    mode: str = "hybrid"
    k: int = 10
    source: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    fusion: str = DEFAULT_FUSION
    format: str | None = None  # None: the default rule (table on a terminal, JSON when piped)

    def to_json(self) -> dict:
        data = asdict(self)
        del data["name"]
        return data

    @classmethod
    def from_json(cls, name: str, data: object, where: str) -> SavedSearch:
        """Check one hand-editable entry; `where` names the file in error messages."""
        try:
            check_name(name)
        except SavedError as exc:
            raise SavedError(f"{where}: {exc}") from None
        if not isinstance(data, dict):
            raise SavedError(f"{where}: saved search {name!r} must be an object with at least a \"query\"")
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SavedError(f"{where}: saved search {name!r} has unknown keys {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")

        def typed(key: str, kinds: tuple, label: str):
            value = data.get(key)
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise SavedError(f"{where}: saved search {name!r}: \"{key}\" must be {label}, not {value!r}")
            return value

        source = data.get("source", [])
        if isinstance(source, str):
            source = [source]
        if not isinstance(source, list) or not all(isinstance(s, str) for s in source):
            raise SavedError(f"{where}: saved search {name!r}: \"source\" must be a list of strings")
        defaults = cls(name=name, query="")
        return cls(
            name=name,
            query=typed("query", (str,), "a string"),
            mode=typed("mode", (str,), "a string") if "mode" in data else defaults.mode,
            k=typed("k", (int,), "a whole number") if "k" in data else defaults.k,
            source=source,
            since=typed("since", (str, type(None)), "a date or null") if "since" in data else None,
            until=typed("until", (str, type(None)), "a date or null") if "until" in data else None,
            fusion=typed("fusion", (str,), "a string") if "fusion" in data else defaults.fusion,
            format=typed("format", (str, type(None)), "a format name or null") if "format" in data else None,
        )


def dumps(searches: Iterable[SavedSearch]) -> str:
    """The definitions file's text (also what `export` prints)."""
    body = {s.name: s.to_json() for s in searches}
    return controls.json_text(json.dumps({"version": FILE_VERSION, "searches": body}, indent=2, sort_keys=True,
                                         ensure_ascii=False)) + "\n"


def loads(text: str, where: str) -> dict[str, SavedSearch]:
    """Parse a definitions file (or an export); every error names `where`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SavedError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                         "fix it by hand or restore it from a backup") from None
    except RecursionError:
        raise SavedError(f"{where} is nested too deeply to be saved searches; fix it by hand or restore "
                         "it from a backup") from None
    if not isinstance(data, dict) or not isinstance(data.get("searches"), dict):
        raise SavedError(f"{where} must be a JSON object with a \"searches\" object inside "
                         '(e.g. {"version": 1, "searches": {"rates": {"query": "rate decision"}}})')
    version = data.get("version", FILE_VERSION)
    if version != FILE_VERSION:
        raise SavedError(f"{where} has version {version!r}; this byline reads version {FILE_VERSION}")
    return {name: SavedSearch.from_json(name, entry, where) for name, entry in data["searches"].items()}


def read_file(path: Path) -> dict[str, SavedSearch]:
    """Saved searches from a file, e.g. one made by `byline saved export`."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SavedError(f"cannot read {path}: {exc}") from None
    return loads(text, str(path))


@dataclass
class SeenState:
    """What `run --new` has already reported for one saved search."""

    seen: set[str] = field(default_factory=set)
    updated: str | None = None


class SavedStore:
    """The saved searches and their state for one index folder."""

    def __init__(self, index_root: Path):
        self._lock_depth = 0
        self.folder = Path(index_root) / "saved"
        self.definitions = self.folder / "searches.json"
        self.state_dir = self.folder / "state"
        self.lock_file = self.folder / ".lock"

    # --- definitions ------------------------------------------------------------------------

    def load(self) -> dict[str, SavedSearch]:
        """All saved searches by name; an absent file means none."""
        if not self.definitions.exists():
            return {}
        return read_file(self.definitions)

    @contextmanager
    def editing(self) -> Iterator[dict[str, SavedSearch]]:
        """Lock, load, let the caller change the dict, then save it (unless the block raised)."""
        with self._locked():
            searches = self.load()
            yield searches
            write_atomic(self.definitions, dumps(sorted(searches.values(), key=lambda s: s.name)))

    def remove(self, names: list[str]) -> None:
        """Remove saved searches and their state; all or, if one is unknown, none."""
        with self.editing() as searches:
            unknown = [n for n in names if n not in searches]
            if unknown:
                raise SavedError(f"no saved search named {', '.join(map(repr, unknown))}; nothing removed")
            for name in names:
                del searches[name]
            self.reset(names)

    # --- state ------------------------------------------------------------------------------

    def state(self, name: str) -> SeenState:
        path = self._state_path(name)
        if not path.exists():
            return SeenState()
        try:
            data = json.loads(path.read_text("utf-8"))
            seen = data["seen"]
            if not isinstance(seen, list) or not all(isinstance(x, str) for x in seen):
                raise ValueError("\"seen\" must be a list of article ids")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError) as exc:
            if isinstance(exc, RecursionError):
                exc = "nested too deeply"
            raise SavedError(f"state file {path} is broken ({exc}); forget it with: "
                             f"byline saved run {name} --reset") from None
        return SeenState(set(seen), data.get("updated"))

    def mark_seen(self, reported: dict[str, Iterable[str]]) -> None:
        """Add article ids to what each named search has reported, all under one lock."""
        with self._locked():
            self.state_dir.mkdir(exist_ok=True)
            now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
            for name, ids in reported.items():
                # Re-read under the lock: an overlapping run may have added ids since we looked.
                seen = self.state(name).seen | set(ids)
                text = json.dumps({"seen": sorted(seen), "updated": now}, indent=2) + "\n"
                write_atomic(self._state_path(name), text)

    def reset(self, names: Iterable[str]) -> None:
        with self._locked():
            for name in names:
                self._state_path(name).unlink(missing_ok=True)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the lock over a whole `run --new`: read what was seen, search, report, record.
        Overlapping runs then take turns, so each new article is reported by one of them only."""
        with self._locked():
            yield

    def check_writable(self) -> None:
        """Raise SavedError now if changes could not be saved (a read-only index folder)."""
        with self._locked():
            pass

    # --- internals --------------------------------------------------------------------------

    def _state_path(self, name: str) -> Path:
        return self.state_dir / f"{check_name(name)}.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Reentrant: flock locks belong to an open file, so a nested open() would wait on itself.
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        try:
            self.folder.mkdir(exist_ok=True)
            with open(self.lock_file, "a") as fh:  # "a": create if missing, never truncate
                fcntl.flock(fh, fcntl.LOCK_EX)
                self._lock_depth = 1
                try:
                    self._remove_temp_files()
                    yield
                finally:
                    self._lock_depth = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)
        except OSError as exc:
            raise SavedError(f"cannot write saved searches in {self.folder} ({exc.strerror or exc}); "
                             "a read-only index can be searched (byline search), but saved searches and "
                             "what they have seen need a writable index folder") from None

    def _remove_temp_files(self) -> None:
        """Temporary files a killed writer left (every writer holds the lock, as we do now)."""
        for pattern, folder in ((f".{self.definitions.name}.*", self.folder), (".*.json.*", self.state_dir)):
            for p in folder.glob(pattern):
                p.unlink(missing_ok=True)
