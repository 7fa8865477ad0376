"""Load Whoosh's pickles without ever running code stored in an index.

Whoosh keeps its table of contents (schema and segment list), posting blocks, inlined postings,
stored fields and some columns as pickles, and a pickle can call any function it names: a crafted
`_MAIN_*.toc` would run a command on the next search. `install()` rebinds the pickle loaders of
the Whoosh modules to an unpickler whose `find_class` allows only what Whoosh's own files for a
byline schema hold (found by logging every lookup while indexing, updating, searching with every
query kind and checking an index); anything else raises `UnsafeIndexData`, an `IndexProblem`,
naming the file where it is known. Old Whoosh TOC formats, read by an unrestricted unpickler, are
refused. The unpickler is the C one (a subclass only adds `find_class`); reading from a file
object rather than bytes makes a posting block ~11% slower to load than with `pickle.loads`,
1.13x the CPU time of a warm lexical query (docs/performance.md); scoring has since read the
usual shapes of a posting block's front by slicing bytes (search/retrieval/postings.py).
The allowed constructors only build values (a compiled expression, an analyzer, a schema), but
a crafted index can still make them slow or wrong; what it cannot do is run a command.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import types

from index.manifest import IndexProblem

# (module, name) pairs as they appear in the pickles; protocol 2 writes Python 2 names
# (__builtin__, long), which the unpickler maps to their Python 3 objects.
ALLOWED = frozenset({
    ("__builtin__", "frozenset"), ("__builtin__", "long"), ("__builtin__", "set"),
    ("builtins", "frozenset"), ("builtins", "int"), ("builtins", "set"),
    # Protocol 2 writes bytes as _codecs.encode(text, "latin1"): 128 calls in a posting block,
    # so it stays the C function. Any other codec name only reaches the encoders of the standard
    # `encodings` package, which compute a value and run nothing else.
    ("_codecs", "encode"),
    ("array", "array"), ("array", "_array_reconstructor"),
    ("collections", "defaultdict"),
    ("re", "_compile"),  # the tokenizer's compiled expression
    ("whoosh.analysis.analyzers", "CompositeAnalyzer"),
    ("whoosh.analysis.filters", "LowercaseFilter"),
    ("whoosh.analysis.filters", "StopFilter"),
    ("whoosh.analysis.morph", "StemFilter"),
    ("whoosh.analysis.tokenizers", "IDTokenizer"),
    ("whoosh.analysis.tokenizers", "RegexTokenizer"),
    ("whoosh.codec.whoosh3", "W3Codec"),
    ("whoosh.codec.whoosh3", "W3Segment"),
    ("whoosh.fields", "ID"), ("whoosh.fields", "NUMERIC"), ("whoosh.fields", "Schema"),
    ("whoosh.fields", "TEXT"),
    ("whoosh.formats", "Existence"), ("whoosh.formats", "Positions"),
    ("whoosh.lang.porter", "stem"),
})


# Protocol 2 writes an empty bytes value as a call of bytes() with no arguments: a posting
# without a value in the sorted runs Whoosh's writer spills to disk when a segment's postings
# outgrow limitmb (SciFact-sized ingests). Only that call is allowed: bytes(n) would let a pickle
# allocate at will.
_EMPTY_BYTES = frozenset({("__builtin__", "bytes"), ("builtins", "bytes")})


def _empty_bytes(*args):
    if args:
        raise UnsafeIndexData("bytes() with arguments")
    return b""


class UnsafeIndexData(IndexProblem):
    """A Whoosh index file holds a pickle that names something other than Whoosh's own types."""

    def __init__(self, what: str, where: str | None = None):
        self.what, self.where = what, where
        super().__init__(
            f"{where or 'a Whoosh index file'}: refused to load {what}; an index holds data, never "
            "code, so this file was not written by byline (damaged or tampered with) and nothing in "
            "it was run. Rebuild the lexical and vector indexes from the article store with: "
            "byline doctor --repair")

    def at(self, where: str) -> UnsafeIndexData:
        return self if self.where else UnsafeIndexData(self.what, where)


class RestrictedUnpickler(pickle.Unpickler):
    """The C unpickler with an allow-list of the globals a pickle may name."""

    def find_class(self, module: str, name: str):
        if (module, name) in _EMPTY_BYTES:
            return _empty_bytes
        if (module, name) not in ALLOWED:
            raise UnsafeIndexData(f"{module}.{name}")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise UnsafeIndexData("a persistent id")


def loads(data, /, **_options):
    # A buffered reader has peek(), so the C unpickler takes its input in one piece instead of
    # calling read() for each opcode (Whoosh writes blocks in protocol 2, without frames).
    return RestrictedUnpickler(io.BufferedReader(io.BytesIO(data))).load()


def load(file, **_options):
    return RestrictedUnpickler(file).load()


def _pickle_module() -> types.ModuleType:
    """A stand-in for the `pickle` module with the restricted loaders."""
    shim = types.ModuleType("byline_safe_pickle")
    shim.__dict__.update(pickle.__dict__)
    shim.loads, shim.load, shim.Unpickler = loads, load, RestrictedUnpickler
    return shim


# Whoosh modules and the pickle names each one binds at import.
_NAMES = {
    "whoosh.index": ("pickle",), "whoosh.filedb.fileindex": ("pickle",), "whoosh.multiproc": ("pickle",),
    "whoosh.codec.whoosh3": ("loads",), "whoosh.codec.whoosh2": ("loads",),
    "whoosh.codec.plaintext": ("loads",), "whoosh.columns": ("loads",), "whoosh.formats": ("loads",),
    "whoosh.filedb.structfile": ("load",), "whoosh.externalsort": ("load",),
    "whoosh.filedb.misc": ("loads", "depickle"), "whoosh.util.loading": ("pickle",),
}
_installed = False


def install() -> None:
    """Make every pickle load of Whoosh go through `RestrictedUnpickler` (idempotent)."""
    global _installed
    if _installed:
        return
    shim = _pickle_module()
    replacement = {"pickle": shim, "loads": loads, "load": load, "depickle": loads}
    for module_name, names in _NAMES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a leftover module of old Whoosh that cannot be imported, so never runs
            continue
        for name in names:
            if hasattr(module, name):
                setattr(module, name, replacement[name])
    import whoosh.index
    from whoosh.codec import whoosh3

    from whoosh.util.loading import RenamingUnpickler

    whoosh.index.toc_loaders.clear()  # Whoosh 1.x TOCs, read by RenamingUnpickler: refused
    RenamingUnpickler.find_class = RestrictedUnpickler.find_class
    _name_files(whoosh.index.TOC, whoosh3)
    _installed = True


def _name_files(toc_class, whoosh3) -> None:
    """Let the errors raised while reading a TOC or a posting block name that file."""
    read_toc = toc_class.read.__func__

    def read(cls, storage, indexname, gen=None, schema=None):
        try:
            return read_toc(cls, storage, indexname, gen, schema)
        except UnsafeIndexData as exc:
            number = gen if gen is not None else cls._latest_generation(storage, indexname)
            folder = getattr(storage, "folder", "")
            raise exc.at(os.path.join(folder, cls._filename(indexname, number))) from None

    toc_class.read = classmethod(read)

    matcher = whoosh3.W3LeafMatcher
    read_block = matcher._read_data

    def _read_data(self):
        try:
            read_block(self)
        except UnsafeIndexData as exc:
            raise exc.at(_file_name(self._postfile)) from None

    matcher._read_data = _read_data


def _file_name(structfile) -> str:
    inner = getattr(structfile, "file", None)
    name = getattr(inner, "name", None)
    if isinstance(name, str) and name.startswith("/proc/self/fd/"):  # a pinned file (search/retrieval/pinned.py)
        try:
            name = os.readlink(name)
        except OSError:
            pass
    return name if isinstance(name, str) else getattr(structfile, "_name", None) or "a Whoosh postings file"
