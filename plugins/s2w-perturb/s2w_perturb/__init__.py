"""s2w-perturb: perturbation baselines for explaining a face pair's similarity.

Registers the ``rise`` explainer (:class:`s2w_perturb.rise.RISEExplainer`). The class is registered by
import path, so listing plugins (``s2w plugins``) does not import torch.

Example:
    >>> [ref.name for ref in s2w_register_explainers()]
    ['rise']
"""

from __future__ import annotations

from s2w_toolkit import ClassRef, hookimpl

__version__ = "0.1.0"


@hookimpl
def s2w_register_explainers() -> list:
    """The explainers of this distribution, imported only when used."""
    return [ClassRef("s2w_perturb.rise:RISEExplainer", name="rise")]
