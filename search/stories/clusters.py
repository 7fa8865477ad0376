"""Duplicate clusters: which indexed articles are copies of one story.

Two articles are near-duplicates when they share an LSH bucket and their MinHash signatures
(index/dedup.py) estimate a Jaccard similarity of at least THRESHOLD; a cluster is a connected
set of near-duplicates. Clusters are not stored: they are found from the signature rows of the
generation being read, so they are always what `index add` / `rm` / `sync` left, and removing a
cluster's representative (its earliest article) simply makes the next earliest one represent it.
An index without signatures (made by an older byline) has no clusters: nothing is collapsed.
"""

from __future__ import annotations

import numpy as np

from index import dedup
from index.store import ArticleStore

THRESHOLD = 0.45  # estimated Jaccard over 5-word shingles; chosen in docs/stories.md
MAX_MEMBERS = 1000  # a cluster is not followed further than this (a safety bound)


class Clusters:
    """Near-duplicate clusters of one open article store. It remembers every cluster it has
    found, which stays true while the store shows one generation: keep one per open generation
    (search/engine.py does) and later searches over the same articles find theirs at once."""

    def __init__(self, store: ArticleStore, threshold: float = THRESHOLD):
        self.store = store
        self.threshold = threshold
        self.available = store.dedup_scheme() == dedup.SCHEME
        self._members: dict[str, frozenset[str]] = {}

    def near_duplicates(self, ids: list[str]) -> dict[str, set[str]]:
        """The direct near-duplicates of each article in `ids`."""
        out: dict[str, set[str]] = {i: set() for i in ids}
        if not self.available or not ids:
            return out
        pairs = self.store.bucket_mates(ids)
        sigs = {a: np.frombuffer(s, dtype="uint32")
                for a, s in self.store.signatures(set(ids) | {b for _, b in pairs}).items()}
        for a, b in pairs:
            if a in sigs and b in sigs and dedup.similarity(sigs[a], sigs[b]) >= self.threshold:
                out[a].add(b)
        return out

    def members(self, ids: list[str]) -> dict[str, frozenset[str]]:
        """Each article's whole cluster (itself included; alone when it has no copies).

        Found breadth-first, one lookup per level for all the articles at once."""
        todo = [i for i in dict.fromkeys(ids) if i not in self._members]
        links: dict[str, set[str]] = {}
        reached, frontier = set(todo), list(todo)
        while frontier and len(reached) < MAX_MEMBERS * max(1, len(todo)):
            found = self.near_duplicates(frontier)
            for a, mates in found.items():
                links.setdefault(a, set()).update(mates)
                for b in mates:
                    links.setdefault(b, set()).add(a)
            frontier = sorted({b for mates in found.values() for b in mates} - reached)
            reached.update(frontier)
        for start in todo:
            if start in self._members:
                continue
            component, stack = {start}, [start]
            while stack:
                for b in links.get(stack.pop(), ()):
                    if b not in component:
                        component.add(b)
                        stack.append(b)
            frozen = frozenset(component)
            for member in component:
                self._members[member] = frozen
        return {i: self._members[i] for i in ids}
