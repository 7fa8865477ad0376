"""Answers: the sentence of each ranked article that answers the query."""
