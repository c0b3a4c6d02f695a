"""Search over the results documents: one query language (query.py) parsed into one tree, which every engine
compiles; none parses the text itself. reference.py evaluates the tree over the documents in plain Python (the
answer the engines are checked against)."""
