"""Every exception faceledger raises on purpose, in one place.

The four kinds say what went wrong from the caller's side, and the portal answers by kind
(``web/errors.status_for``): never by a class name.

Hierarchy::

    FaceledgerError                 base; the CLI turns it into a message and exit code 2
    ├── Invalid                     the input cannot be used as given (HTTP 400)
    │   ├── ManifestError           a manifest cannot be read at all (names file and line)
    │   ├── ImageError              one image cannot be decoded or is refused (HTTP 422)
    │   ├── PolicyError             a policy file or a scenario is invalid (names file, field)
    │   ├── EvaluationError         a labelled file for ``evaluate`` cannot be used
    │   ├── ConsentError, ClaimError, EvidenceError, RequestError, IdentityError, UserError,
    │   │   DatasetError, IdentifierError, ReleaseError (ReleaseEmpty, ReleaseUnchanged),
    │   │   ReportFormatError, FaceReviewError,
    │   │   ConsentRequired
    │   ├── NoFaceError             an image given for comparison has no face (exit code 3)
    │   ├── TemplateRefused         no decision allows a template for this face
    │   └── SweepNeedsConfirm       a retention sweep needs ``--confirm``
    ├── NotFound                    no such record (HTTP 404)
    │   └── AssessmentNotFound, ClaimNotFound, ConsentNotFound, RequestNotFound, FaceNotFound
    ├── Conflict                    not allowed from the record's current state (HTTP 409)
    │   └── RequestStateError, ExtensionStateError, NothingIngested
    ├── Unavailable                 the service cannot answer now; not the caller's fault (503)
    │   ├── ConfigError             a setting is missing or invalid (names the setting)
    │   ├── LedgerError             the database is unreachable or not migrated
    │   ├── ModelError              a model file is missing or cannot be loaded
    │   ├── PdfUnavailable          PDF output needs Chromium and Playwright
    │   ├── KeyShredded             a subject's data key was destroyed
    │   ├── WorkersLost             every worker of a scale-out engine is gone (Ray nodes lost)
    │   └── TamperedCiphertext      a template does not authenticate
    ├── FetchFailure                one URL could not be fetched (a value in the fetch report)
    ├── ReleaseImageError           a release image could not be written or carried forward
    ├── AuditBroken                 the audit chain does not verify (exit code 1)
    │   └── CheckpointFileError     the checkpoints file cannot be read
    └── LoginRequired               a console page without a live session (a redirect)

    RowError (a ValueError)         one row of a file is bad; caught and reported per row

Errors carry what a user needs to act: the file, the line or field, and what to do.
"""

from __future__ import annotations

from typing import Any


class FaceledgerError(Exception):
    """Base class of every error faceledger raises on purpose."""

    exit_code = 2


# ---- the five kinds ----------------------------------------------------------------------


class Invalid(FaceledgerError):
    """The input cannot be used as given; the message says which part and why."""


class NotFound(FaceledgerError):
    """No record has this id, receipt or name."""


class Conflict(FaceledgerError):
    """The step is not allowed from the record's current state."""


class Unavailable(FaceledgerError):
    """faceledger cannot answer now (configuration, database, model); not the caller's fault."""


class Forbidden(FaceledgerError):
    """The caller is known but their role does not allow this action."""


# ---- input -------------------------------------------------------------------------------


class ManifestError(Invalid):
    """A manifest cannot be read at all (a single bad row is reported, not raised)."""


class ImageError(Invalid):
    """An image cannot be used. ``reason`` is a stable short code (``truncated``, ``bomb``...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PolicyError(Invalid):
    """A policy file or a scenario is invalid; the message names the file and field."""


class EvaluationError(Invalid):
    """A labelled file for ``faceledger evaluate`` cannot be used; the message names the column."""


class RowError(ValueError):
    """One row of a manifest or consent file is bad; the message is the reason shown to the user.

    Readers catch it and report the row with its file and line; it never ends a run.
    """


class UserError(Invalid):
    """A user cannot be added (bad name or role, name taken)."""


class ConsentError(Invalid):
    """A consent given on the command line or through the API is invalid (exit code 2)."""


class ClaimError(Invalid):
    """A claim's values are invalid, or its face cannot be claimed (exit code 2)."""


class EvidenceError(Invalid):
    """An identity evidence value is malformed or claims more than it shows (exit code 2)."""


class RequestError(Invalid):
    """A request cannot be filed as given (unknown kind, missing key, no consent...)."""


class FaceReviewError(Invalid):
    """A matched face cannot be confirmed or rejected as asked."""


class DatasetError(Invalid):
    """A dataset file or name cannot be used, or a lookup is not exact (exit code 2)."""


class IdentifierError(Invalid):
    """An identifier is missing, too long or not exact."""


class ReleaseError(Invalid):
    """A release, version or consumer is unknown, or a name or reference is invalid."""


class ReleaseEmpty(ReleaseError):
    """``release create`` would cut a version with no face and no photo (every face withheld):
    refused unless ``allow_empty``. ``withheld`` (a ``release_withheld.Withheld``) says why,
    per law and section."""

    def __init__(self, message: str, withheld: Any) -> None:
        super().__init__(message)
        self.withheld = withheld


class ReleaseUnchanged(ReleaseError):
    """``release create`` would cut a version identical to the latest (same contents)."""


class ReportFormatError(Invalid):
    """A file given to ``--compare`` is not a faceledger report (exit code 2)."""


class NoFaceError(Invalid):
    """An image given for comparison has no detectable face."""

    exit_code = 3


class ConsentRequired(Invalid):
    """A selfie search needs the searching person's explicit consent."""


class TemplateRefused(Invalid):
    """No decision allows a template for this face: nothing was stored."""


class SweepNeedsConfirm(Invalid):
    """The sweep would destroy far more than the previous one; nothing was destroyed."""


# ---- missing records ---------------------------------------------------------------------


class AssessmentNotFound(NotFound):
    """No such face, or the face has no recorded decision for the purpose (exit code 2)."""


class ClaimNotFound(NotFound):
    """No claim has this id or receipt (exit code 2)."""


class ConsentNotFound(NotFound):
    """No consent has this id or receipt (exit code 2)."""


class RequestNotFound(NotFound):
    """No request has this id or receipt."""


class FaceNotFound(NotFound):
    """No such face, or (for the public) one that may not be shown (exit code 2; web 404)."""


# ---- state -------------------------------------------------------------------------------


class RequestStateError(Conflict):
    """The step is not allowed from the request's current status."""


class IdentityError(Invalid):
    """A request's evidence does not show it covers what it asks for (verify or execute)."""


class NothingIngested(Conflict):
    """A step that works on ingested photos (``scan``) found none in the ledger."""


class ExtensionStateError(Conflict):
    """A deadline cannot be extended as asked (closed request, too late, beyond the law)."""


# ---- the service itself ------------------------------------------------------------------


class ConfigError(Unavailable):
    """A setting is missing or invalid; the message names the setting."""


class LedgerError(Unavailable):
    """The ledger database cannot be reached or is not at the expected schema."""


class ModelError(Unavailable):
    """A model's weights are missing or cannot be loaded."""


class PdfUnavailable(Unavailable):
    """PDF output needs Chromium and Playwright; the message says how to get them."""


class KeyShredded(Unavailable):
    """The subject's data key was destroyed: its templates can never be read again."""


class TamperedCiphertext(Unavailable):
    """A template's ciphertext or its binding (face, kind, model) does not authenticate."""


# ---- reported as values, or answered specially -------------------------------------------


class FetchFailure(FaceledgerError):
    """One URL could not be fetched; ``reason`` is a stable code, ``attempts`` the tries."""

    def __init__(self, reason: str, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.reason = reason
        self.attempts = attempts


class ReleaseImageError(FaceledgerError):
    """A release image could not be written or carried forward (its source changed or vanished)."""


class AuditBroken(FaceledgerError):
    """The audit chain does not verify; the message names the first bad row."""

    exit_code = 1


class CheckpointFileError(AuditBroken):
    """The checkpoints file cannot be read or holds something that is not a checkpoint."""


class RoleRequired(Forbidden):
    """A console user tried an action their role does not allow (``services.users.require``)."""


class LoginRequired(FaceledgerError):
    """A console page was asked for without a live session (answered with a redirect)."""


class NoLedgerError(LedgerError):
    """No ledger at the configured URL, for a command that needs one; only ``ingest`` and
    ``init`` create a ledger (issue 13 item 8)."""


class WorkersLost(Unavailable):
    """Every worker of a scale-out engine was lost (its Ray nodes died) before the work was
    done; what was committed stays, and a re-run finishes the rest."""
