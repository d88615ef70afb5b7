"""Benchmarking a backbone on lists of face pairs (LFW ``pairs.txt``, CSV, identity folders).

Example:
    >>> from s2w_toolkit.bench.pairs import read_pairs
    >>> specs = read_pairs()  # the bundled pairs
    >>> len(specs), sum(s.same for s in specs)
    (6, 3)
"""
