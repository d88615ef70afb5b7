"""The ``s2w`` command-line interface."""
