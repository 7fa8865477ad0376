"""Read Whoosh postings and field lengths as numpy arrays, a block at a time.

Whoosh's matchers hand out one posting per Python call; scoring a question over a large index
walks tens of thousands of them. Each on-disk block (up to 128 postings) is one pickled tuple of
delta-coded document numbers and term frequencies, so decoding whole blocks into arrays makes
the walk a few numpy operations per block. This relies on the Whoosh 3 codec (pinned in
pyproject.toml); anything else raises `UnsupportedPostings` and the caller falls back to Whoosh.

A block's tuple also holds each posting's positions, about three quarters of its bytes and most
of its unpickling time (one `_codecs.encode` call a posting); scoring needs none of them, so only
the front of the block is decompressed and unpickled (docs/performance.md).
"""

from __future__ import annotations

import zlib

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching.wrappers import FilterMatcher
from whoosh.util.numeric import _length_byte_cache

from index import safe_pickle

# Whoosh stores each field length as one byte on a log scale; this decodes it as Whoosh does.
_BYTE_TO_LENGTH = np.asarray(_length_byte_cache, dtype=np.float64)


class UnsupportedPostings(Exception):
    """The segment is not in the layout this module reads."""


def term_postings(segment, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(segment docnums, term frequencies) of one term in one segment, deleted documents
    included (Whoosh's statistics count them too); empty arrays when the term is absent."""
    if (fieldname, text) not in segment:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    matcher = segment.postings(fieldname, text)
    if isinstance(matcher, FilterMatcher):  # the deletions filter; the caller masks deletions
        matcher = matcher.child
    if not isinstance(matcher, W3LeafMatcher):
        raise UnsupportedPostings(type(matcher).__name__)
    try:
        ids, weights = _read_blocks(matcher)
    except (AttributeError, TypeError, ValueError) as exc:
        raise UnsupportedPostings(f"unexpected posting block: {exc}") from None
    if not ids:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    return np.concatenate(ids), np.concatenate(weights)


def _read_blocks(matcher: W3LeafMatcher) -> tuple[list[np.ndarray], list[np.ndarray]]:
    ids, weights = [], []
    while matcher.is_active():
        count = matcher._blocklength
        deltas, block_weights = _ids_and_weights(matcher, count)
        ids.append(np.cumsum(np.asarray(deltas, dtype=np.int64)))
        if block_weights is None:  # all 1.0, minified away
            weights.append(np.ones(count))
        elif isinstance(block_weights, float):  # all equal
            weights.append(np.full(count, block_weights))
        else:
            weights.append(np.asarray(block_weights, dtype=np.float64))
        matcher._next_block()
    return ids, weights


# Protocol 2 pickles each posting's value (bytes) as a call of `_codecs.encode`, the values
# tuple opening with a MARK when it has over 3 items. The ids and weights before it are opcodes
# with ints and floats, whose bytes cannot spell this name.
_VALUES_START = b"c_codecs\nencode\n"
_FRONT_BYTES = 64  # proto, marks, tuples and memo puts around the ids and weights


def _ids_and_weights(matcher: W3LeafMatcher, count: int):
    """(delta-coded ids, weights) of the matcher's current block, read without its values.

    The front of the block (at most 5 bytes an id, 9 a weight) is decompressed, cut where the
    values begin, closed as a pair and unpickled by the same restricted unpickler; a block of any
    other shape is read whole by Whoosh, which also names the file when a pickle is refused."""
    raw = matcher._postfile.get(matcher._dataoffset, matcher._nextoffset - matcher._dataoffset)
    try:
        front = zlib.decompressobj().decompress(raw, 14 * count + _FRONT_BYTES) if matcher._compression else raw
        cut = front.find(_VALUES_START)
        if cut > 0 and count > 3:
            cut -= 1  # the MARK
        if cut > 0:
            ids, weights = safe_pickle.loads(front[:cut] + b"\x86.")  # TUPLE2, STOP
            if (type(ids) is tuple and len(ids) == count
                    and (weights is None or type(weights) is float
                         or (type(weights) is tuple and len(weights) == count))):
                return ids, weights
    except Exception:  # noqa: BLE001 - any surprise: Whoosh reads the block whole (and reports)
        pass
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
