"""The swap game: a benchmark with ground truth. A facial region of another person is planted on
a mate photo, and a good explanation of the pair must point at it (maps) and name it (words).

Example:
    >>> from s2w_toolkit.game.regions import REGIONS
    >>> sorted(REGIONS)
    ['eyebrows', 'eyes', 'mouth', 'nose']
"""
