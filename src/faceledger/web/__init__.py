"""The portal: public "am I in this dataset?" pages and API, and the owner's console.

Example::

    from faceledger.config import load_settings
    from faceledger.web import create_app

    app = create_app(load_settings())      # serve with uvicorn (``faceledger serve``)

The web layer parses requests, calls the same services as the CLI and renders their
results; it holds no business rule (ARCHITECTURE.md). Needs the ``web`` extra.
"""

from __future__ import annotations

from faceledger.web.app import create_app

__all__ = ["create_app"]
