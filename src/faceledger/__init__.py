"""faceledger: make face datasets lawful and answerable.

The public surface is small on purpose; everything else is an implementation detail.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
