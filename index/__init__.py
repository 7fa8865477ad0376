"""The write side of byline: read sources, chunk articles, build and store the indexes.

Data flows one way: readers -> chunker -> embedder -> stores (article store, Whoosh, FAISS).
Nothing here imports the `search` package.
"""

# Before any module of this package can import onnxruntime or transformers (see index.no_network).
from index import no_network as _no_network  # noqa: E402

_no_network.apply()
