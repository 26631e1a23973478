"""faceledger: make face datasets lawful and answerable.

The public surface is small on purpose; everything else is an implementation detail::

    from faceledger import FaceLedger, Intake, load_settings

    with FaceLedger(load_settings(), create=True) as fl:
        fl.ingest(Path("photos.csv")); fl.scan(); fl.assess()
        fl.file_request(Intake(kind="optout", owner="70000001@N01"))

Errors are :class:`FaceledgerError` and its kinds (``faceledger.errors``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faceledger.api import FaceLedger
from faceledger.config import Settings, load_settings
from faceledger.errors import Conflict, FaceledgerError, Forbidden, Invalid, NotFound, Unavailable

if TYPE_CHECKING:
    from faceledger.services.lifecycle.request_intake import Intake

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "FaceLedger",
    "FaceledgerError",
    "Forbidden",
    "Intake",
    "Invalid",
    "NotFound",
    "Settings",
    "Unavailable",
    "__version__",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    """``Intake`` is imported on first use: ``import faceledger`` stays light (no database
    or model libraries) for the CLI's ``--help``."""
    if name == "Intake":
        from faceledger.services.lifecycle.request_intake import Intake

        return Intake
    raise AttributeError(f"module 'faceledger' has no attribute {name!r}")
