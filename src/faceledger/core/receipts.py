"""Receipts: the unguessable ids handed to people for their consents, claims and requests.

Example::

    receipt = new_receipt()          # 'q3Vd...' (32 URL-safe characters, 192 random bits)

A receipt is typed on command lines (``faceledger request show RECEIPT``), so it never starts
with ``-``: click would read such a receipt as an option. ``secrets.token_urlsafe`` gives one
in 64 a leading dash; the first character is redrawn from the alphanumerics instead, which
keeps the receipt uniformly random over its (slightly smaller) alphabet.
"""

from __future__ import annotations

import secrets
import string

_FIRST = string.ascii_letters + string.digits
RECEIPT_BYTES = 24


def new_receipt() -> str:
    """A fresh receipt: URL-safe, 32 characters, never starting with ``-``."""
    token = secrets.token_urlsafe(RECEIPT_BYTES)
    if token.startswith("-"):
        token = secrets.choice(_FIRST) + token[1:]
    return token
