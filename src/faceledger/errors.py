"""Every exception faceledger raises on purpose.

Hierarchy::

    FaceledgerError                 base; the CLI turns it into a message and exit code 2
    ├── ConfigError                 a setting is missing or invalid (names the setting)
    ├── ManifestError               a manifest cannot be read at all (names file and line)
    ├── ImageError                  one image cannot be decoded or is refused (reason code)
    ├── ModelError                  a model file is missing or cannot be loaded
    ├── LedgerError                 the database is unreachable or not migrated
    └── PolicyError                 a policy file or a scenario is invalid (names file and field)

Errors carry what a user needs to act: the file, the line or field, and what to do.
"""

from __future__ import annotations


class FaceledgerError(Exception):
    """Base class of every error faceledger raises on purpose."""

    exit_code = 2


class ConfigError(FaceledgerError):
    """A setting is missing or invalid; the message names the setting."""


class ManifestError(FaceledgerError):
    """A manifest cannot be read at all (a single bad row is reported, not raised)."""


class ImageError(FaceledgerError):
    """An image cannot be used. ``reason`` is a stable short code (``truncated``, ``bomb``...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ModelError(FaceledgerError):
    """A model's weights are missing or cannot be loaded."""


class LedgerError(FaceledgerError):
    """The ledger database cannot be reached or is not at the expected schema."""


class PolicyError(FaceledgerError):
    """A policy file or a scenario is invalid; the message names the file and field."""


class EvaluationError(FaceledgerError):
    """A labelled file for ``faceledger evaluate`` cannot be used; the message names the column."""
