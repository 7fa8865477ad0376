"""The hybrid ranker: fuse the retrievers' candidates into one ranking of articles with their best passages."""
