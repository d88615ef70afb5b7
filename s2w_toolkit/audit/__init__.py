"""Auditing a face matcher on a pair list (``s2w audit``): scores and error rates, the errors
explained, the attribute words that go with the errors, and error rates per predicted group.

* :mod:`.outcomes`: the threshold in use, each pair's outcome, and which pairs to explain;
* :mod:`.words`: how often each supported word comes with errors against correct decisions;
* :mod:`.groups`: FMR and FNMR per predicted group (Gender, Age, any category attribute);
* :mod:`.run`: the streamed, resumable run that writes the audit folder.

Example:
    >>> from s2w_toolkit.audit.outcomes import outcome
    >>> outcome(same=False, score=0.7, threshold=0.5), outcome(same=True, score=0.4, threshold=0.5)
    ('false match', 'false non-match')
"""
