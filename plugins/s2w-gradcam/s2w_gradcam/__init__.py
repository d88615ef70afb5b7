"""s2w-gradcam: Grad-CAM-family and Captum baseline explainers of a pair's cosine similarity.

The plugin registers five explainers, each by reference so that ``s2w plugins`` and
``s2w --help`` import neither torch nor Captum:

* ``gradcam``: Grad-CAM (Selvaraju et al., ICCV 2017); its option ``method`` picks any of the others.
* ``gradcam++``: Grad-CAM++ (Chattopadhyay et al., WACV 2018).
* ``layercam``: LayerCAM (Jiang et al., IEEE TIP 2021).
* ``integrated-gradients``: Integrated Gradients (Sundararajan et al., ICML 2017).
* ``occlusion``: Occlusion (Zeiler and Fergus, ECCV 2014).

Example:
    >>> [ref.name for ref in s2w_register_explainers()]
    ['gradcam', 'gradcam++', 'layercam', 'integrated-gradients', 'occlusion']
    >>> s2w_register_explainers()[1].load().method
    'gradcam++'
"""

from __future__ import annotations

from s2w_toolkit import ClassRef, hookimpl

__version__ = "0.1.0"

#: Explainer name -> class name in :mod:`s2w_gradcam.explainer`.
EXPLAINERS = {
    "gradcam": "GradCAMExplainer",
    "gradcam++": "GradCAMPlusPlusExplainer",
    "layercam": "LayerCAMExplainer",
    "integrated-gradients": "IntegratedGradientsExplainer",
    "occlusion": "OcclusionExplainer",
}


@hookimpl
def s2w_register_explainers() -> list[ClassRef]:
    """The five explainers, imported only when one is used."""
    return [ClassRef(f"s2w_gradcam.explainer:{cls}", name=name) for name, cls in EXPLAINERS.items()]
