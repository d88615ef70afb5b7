"""The ``s2w`` command-line interface.

Example:
    >>> from s2w_toolkit.cli.main import cli
    >>> {"verify", "explain", "benchmark", "audit", "report"} <= set(cli.commands)
    True
"""
