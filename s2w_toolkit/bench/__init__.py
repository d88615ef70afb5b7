"""Benchmarking a backbone on lists of face pairs (LFW ``pairs.txt``, CSV, identity folders)."""
