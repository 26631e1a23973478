"""Purpose vocabulary: which purposes identify people (the conservative default: all unknown).

Example::

    >>> is_identifying("train-face-recognition")
    True
    >>> is_identifying("fairness-audit")
    False

Some laws carve out processing that does not identify anyone (Texas CUBI's 2026 AI-training
exemption; Colorado's and GDPR's photo rules). Only purposes listed in
:data:`NON_IDENTIFYING` count as non-identifying; any other string is treated as identifying,
so an unknown purpose never unlocks an exemption.
"""

from __future__ import annotations

NON_IDENTIFYING: frozenset[str] = frozenset(
    {
        "train-generative",
        "fairness-audit",
        "demographic-statistics",
        "face-detection",
        "blur",
        "quality-assessment",
    }
)


def is_identifying(purpose: str) -> bool:
    """True unless ``purpose`` is a known non-identifying purpose."""
    return purpose not in NON_IDENTIFYING
