"""Retrieval evaluation: does the real retriever find the page that answers a student's question?

The distance threshold and top-k the server uses are only as good as the data they were tuned on,
so this package measures them on labelled questions (``evaluation/data``) against the same
``CourseRetriever`` and embedding model the server builds. ``python -m evaluation.cli``
(``make eval``) runs it; ``notebooks/retrieval_tuning.ipynb`` calls the same functions.
"""
