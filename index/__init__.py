"""The write side of byline: read sources, chunk articles, build and store the indexes.

Data flows one way: readers -> chunker -> embedder -> stores (article store, Whoosh, FAISS).
Nothing here imports the `search` package.
"""
