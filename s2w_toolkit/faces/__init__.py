"""Finding, aligning and caching faces: detection (dlib's HOG detector and landmark models),
alignment to a backbone's template, the per-run and on-disk face cache, batched embedding.

Example:
    >>> from s2w_toolkit.faces.templates import arcface_template
    >>> arcface_template(112).size
    (112, 112)
"""
