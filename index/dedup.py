"""Near-duplicate signatures: a MinHash of each article's word shingles and its LSH buckets.

Written at ingest beside the article (index/store.py keeps them, versioned by generation like
every other row); the read side (search/stories/clusters.py) finds an article's near-duplicates by
looking up the articles that share one of its buckets and checking the estimated Jaccard
similarity of the two signatures. Nothing here is kept in memory between articles.

The MinHash comes from `rensa` (Rust; 8x faster than `datasketch` on news articles, which made
the signature cost 2% of ingest time instead of 4%: docs/stories.md). The signatures are stored,
so they must stay comparable: `SCHEME` names the library's minor version and the parameters and
is stored in the index; an index written with another scheme counts as having no signatures
until `byline doctor --repair` recomputes them.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

NUM_PERM = 128
SHINGLE_WORDS = 5
BAND_ROWS = 3  # 42 bands of 3 rows: a pair at Jaccard 0.45 shares a bucket with p = 0.98
BANDS = NUM_PERM // BAND_ROWS
SEED = 1
SCHEME = f"rensa-0.5 rminhash buckets31 perm={NUM_PERM} seed={SEED} shingles={SHINGLE_WORDS}w bands={BANDS}x{BAND_ROWS}"

_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The article's overlapping runs of `size` words, lower-cased (the whole text if shorter)."""
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash of the text's shingles (uint32, NUM_PERM values)."""
    from rensa import RMinHash

    grams = shingles(text) or {"\0" + text}  # no words: only the same text matches
    m = RMinHash(num_perm=NUM_PERM, seed=SEED)
    m.update(list(grams))
    return np.asarray(m.digest(), dtype="uint32")


def buckets(sig: np.ndarray) -> list[int]:
    """One LSH bucket per band: a 31-bit hash of the band number and its rows (4 bytes in
    SQLite; a chance collision only costs a signature comparison)."""
    out = []
    for band in range(BANDS):
        part = sig[band * BAND_ROWS:(band + 1) * BAND_ROWS].tobytes()
        digest = hashlib.blake2b(band.to_bytes(2, "little") + part, digest_size=4).digest()
        out.append(int.from_bytes(digest, "little") >> 1)
    return out


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures' shingle sets."""
    return float(np.count_nonzero(a == b)) / len(a)


def article_text(title: str, text: str) -> str:
    """What is shingled: the body only (syndicated copies often get a new headline)."""
    return text or title


def store_signature(store, article_id: str, title: str, text: str) -> None:
    """Compute an article's signature and buckets and write them to the article store."""
    sig = signature(article_text(title, text))
    store.put_signature(article_id, sig.tobytes(), buckets(sig), SCHEME)


def fill_missing(store) -> int:
    """Give every visible article without a signature one (old indexes; a changed scheme
    recomputes them all); returns how many were computed."""
    if store.dedup_scheme() not in (None, SCHEME):
        store.drop_signatures()
    rows = list(store.articles_without_signature())
    for article_id, title, text in rows:
        store_signature(store, article_id, title, text)
    return len(rows)
