"""Helpers that make randomly initialised networks look trained (not a test module itself).

They live in :mod:`s2w_toolkit.testing`, for plugin authors too; this module re-exports them."""

from s2w_toolkit.testing import pair_from_faces, random_faces, randomise_batch_norm, tiny_backbone

__all__ = ["pair_from_faces", "random_faces", "randomise_batch_norm", "tiny_backbone"]
