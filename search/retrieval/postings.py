"""Read Whoosh postings and field lengths as numpy arrays.

Whoosh's matchers hand out one posting per Python call; scoring a question over a large index
walks tens of thousands of them. Each on-disk block (up to 128 postings) is a small pickled
header and one pickled tuple of delta-coded document numbers, term frequencies and positions.
This relies on the Whoosh 3 codec (pinned in pyproject.toml); anything else raises
`UnsupportedPostings` and the caller falls back to Whoosh.

Scoring needs no positions, about three quarters of a block's bytes and most of its unpickling
time (one `_codecs.encode` call a posting), so a term's postings are read in one piece and each
block is decoded from its front only: headers and the usual shapes of ids and frequencies (ids a
byte apart or less, frequencies as floats) by slicing bytes, any other block by unpickling just
its ids and frequencies with the restricted unpickler (index/safe_pickle.py), and a term whose
blocks do not parse at all through Whoosh's own matcher (docs/performance.md). No byte of the
index is ever run as code on any of these paths.
"""

from __future__ import annotations

import re
import struct
import zlib
from functools import lru_cache

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3LeafMatcher, _lenfield
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import _length_byte_cache

from index import safe_pickle

# Whoosh stores each field length as one byte on a log scale; this decodes it as Whoosh does.
_BYTE_TO_LENGTH = np.asarray(_length_byte_cache, dtype=np.float64)


class UnsupportedPostings(Exception):
    """The segment is not in the layout this module reads."""


def term_postings(segment, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(segment docnums, term frequencies) of one term in one segment, deleted documents
    included (Whoosh's statistics count them too); empty arrays when the term is absent."""
    try:
        info = segment.term_info(fieldname, text)
    except TermNotFound:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    postfile = getattr(getattr(segment, "_terms", None), "_postfile", None)
    if postfile is not None and not info.is_inlined():
        offset, length = info.extent()
        found = _read_extent(postfile, offset, length)
        if found is not None:
            return found
    matcher = segment.postings(fieldname, text)
    if isinstance(matcher, FilterMatcher):  # the deletions filter; the caller masks deletions
        matcher = matcher.child
    if not isinstance(matcher, W3LeafMatcher):
        raise UnsupportedPostings(type(matcher).__name__)
    try:
        return _read_blocks(matcher)
    except (AttributeError, TypeError, ValueError) as exc:
        raise UnsupportedPostings(f"unexpected posting block: {exc}") from None


# A block header as Whoosh 3 pickles it (protocol 2): (postings, last id, highest frequency,
# compression, shortest and longest length bytes), the frequency a float or an int.
_INT = rb"(K.|M..|J....)"
_HEADER = re.compile(rb"\x80\x02\(" + _INT + _INT + rb"(G.{8}|K.|M..|J....)K(.)K.K.tq\x00\.", re.DOTALL)
_BLOCK_LENGTH = struct.Struct(">i")
_INT_SIZE = {0x4B: 2, 0x4D: 3, 0x4A: 5}  # opcode and argument bytes of K, M and J


def _int(op: bytes) -> int:
    kind = op[0]
    if kind == 0x4B:  # K: one unsigned byte
        return op[1]
    if kind == 0x4D:  # M: two unsigned bytes, little-endian
        return int.from_bytes(op[1:3], "little")
    return int.from_bytes(op[1:5], "little", signed=True)  # J


@lru_cache(maxsize=None)
def _floats(count: int) -> struct.Struct:
    """`count` pickled floats: an opcode byte, then a big-endian double, each."""
    return struct.Struct(">" + "xd" * count)


def _read_extent(postfile, offset: int, length) -> tuple[np.ndarray, np.ndarray] | None:
    """All of a term's postings (`offset` and `length` from its entry) from one read of its
    bytes; None when a block does not parse."""
    if isinstance(length, tuple) and len(length) == 1:  # as the term's entry unpacks it
        [length] = length
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 4:
        return None
    raw = postfile.get(offset, length)
    if raw[:4] != WHOOSH3_HEADER_MAGIC:
        return None
    gathered = _Gathered()
    pos = 4
    last = False
    while not last:
        if pos + 4 > len(raw):
            return None
        [length] = _BLOCK_LENGTH.unpack_from(raw, pos)
        last = length < 0
        block_end = pos + 4 + abs(length)
        header = _HEADER.match(raw, pos + 4, block_end)
        if header is None or block_end > len(raw):
            return None
        count = _int(header.group(1))
        if count < 1:
            return None
        found = _block(raw[header.end():block_end], header.group(4)[0], count)
        if found is None:
            return None
        gathered.add(*found, count)
        pos = block_end
    if pos != len(raw) or not gathered.consistent():
        return None
    return gathered.arrays()


def _front(data: bytes, compression: int, count: int) -> bytes | None:
    """The start of a block's pickle, as far as its ids and weights reach (at most 5 bytes an id,
    9 a weight), inflated when the block is compressed; None when it does not inflate."""
    if not compression:
        return data
    try:
        return zlib.decompressobj().decompress(data, 14 * count + _FRONT_BYTES)
    except zlib.error:
        return None


def _block(data: bytes, compression: int, count: int):
    """(delta-coded ids, weights) of one block's data, from its front; None when it does not parse."""
    front = _front(data, compression, count)
    if front is None:
        return None
    # The first id of a block is a document number (any size), the rest are gaps.
    first = _INT_SIZE.get(front[3]) if count > 3 and front.startswith(b"\x80\x02(") else None
    if first is None:
        return _unpickled_front(front, count)
    gaps = 3 + first
    ids_end = gaps + 2 * (count - 1)
    if front[gaps:ids_end:2] == b"K" * (count - 1) and front[ids_end:ids_end + 3] == b"tq\x00":
        deltas = [_int(front[3:gaps]), *front[gaps + 1:ids_end:2]]  # a byte each
        p = ids_end + 3
        op = front[p:p + 1]
        if op == b"N":
            return deltas, None
        if op == b"G" and len(front) >= p + 9:
            return deltas, struct.unpack_from(">d", front, p + 1)[0]
        floats_end = p + 1 + 9 * count
        if op == b"(" and front[p + 1:floats_end:9] == b"G" * count and front[floats_end:floats_end + 1] == b"t":
            return deltas, _floats(count).unpack_from(front, p + 1)
    return _unpickled_front(front, count)


def _unpickled_front(front: bytes, count: int):
    """(ids, weights) by unpickling the block's front, cut where its values begin; None when
    that does not give them."""
    cut = front.find(_VALUES_START)
    if cut > 0 and count > 3:
        cut -= 1  # the MARK
    if cut <= 0:
        return None
    try:
        ids, weights = safe_pickle.loads(front[:cut] + b"\x86.")  # TUPLE2, STOP
    except Exception:  # noqa: BLE001 - not this shape: the caller reads the term through Whoosh
        return None
    if (type(ids) is tuple and len(ids) == count
            and (weights is None or type(weights) is float or (type(weights) is tuple and len(weights) == count))):
        return ids, weights
    return None


class _Gathered:
    """Blocks' delta-coded ids and frequencies, gathered in Python lists and turned into arrays
    once (a block holds up to 128 postings, too few to pay for numpy calls of its own)."""

    def __init__(self):
        self.deltas: list[int] = []
        self.weights: list[float] = []
        self.counts: list[int] = []

    def add(self, deltas, weights, count: int) -> None:
        self.deltas.extend(deltas)
        self.counts.append(count)
        if weights is None:  # all 1.0, minified away
            self.weights.extend([1.0] * count)
        elif isinstance(weights, float):  # all equal
            self.weights.extend([weights] * count)
        else:
            self.weights.extend(weights)

    def consistent(self) -> bool:
        return len(self.deltas) == len(self.weights) == sum(self.counts)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        d = np.asarray(self.deltas, dtype=np.int64)
        if not len(d):
            return np.empty(0, np.int64), np.empty(0, np.float64)
        # Each block's ids are a running sum of its own deltas, restarting at the block.
        total = np.cumsum(d)
        starts = np.cumsum(self.counts) - self.counts
        ids = total - np.repeat(total[starts] - d[starts], self.counts)
        return ids, np.asarray(self.weights, dtype=np.float64)


def _read_blocks(matcher: W3LeafMatcher) -> tuple[np.ndarray, np.ndarray]:
    """Every block's postings through Whoosh's matcher (terms `_read_extent` does not parse)."""
    gathered = _Gathered()
    while matcher.is_active():
        count = matcher._blocklength
        gathered.add(*_ids_and_weights(matcher, count), count)
        matcher._next_block()
    if not gathered.consistent():
        raise ValueError("a block's ids and weights differ in number")
    return gathered.arrays()


# Protocol 2 pickles each posting's value (bytes) as a call of `_codecs.encode`, the values
# tuple opening with a MARK when it has over 3 items. The ids and weights before it are opcodes
# with ints and floats, whose bytes cannot spell this name.
_VALUES_START = b"c_codecs\nencode\n"
_FRONT_BYTES = 64  # proto, marks, tuples and memo puts around the ids and weights


def _ids_and_weights(matcher: W3LeafMatcher, count: int):
    """(delta-coded ids, weights) of the matcher's current block: from its front when that
    unpickles, else read whole by Whoosh, which also names the file when a pickle is refused."""
    raw = matcher._postfile.get(matcher._dataoffset, matcher._nextoffset - matcher._dataoffset)
    front = _front(raw, matcher._compression, count)
    found = _unpickled_front(front, count) if front else None
    if found is not None:
        return found
    matcher._read_data()
    deltas, weights, _ = matcher._data
    return deltas, weights


def field_lengths(segment, fieldname: str) -> np.ndarray:
    """Every document's length of one field in one segment, as Whoosh's scorers see it."""
    doc_count = segment.doc_count_all()
    codes = np.zeros(doc_count, dtype=np.uint8)
    if not doc_count:
        return _BYTE_TO_LENGTH[codes]
    try:
        column = segment._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if column is not None:
            stored = min(column._count, doc_count)  # documents past the end have length 0
            raw = column._dbfile.get(column._basepos, stored)
            codes[:stored] = np.frombuffer(raw, dtype=np.uint8)
    except AttributeError as exc:
        raise UnsupportedPostings(str(exc)) from None
    return _BYTE_TO_LENGTH[codes]


def deleted_docnums(segment) -> np.ndarray:
    if not segment.has_deletions():
        return np.empty(0, np.int64)
    return np.fromiter(segment.deleted_docs_set, dtype=np.int64)
