"""The audit report's presentation: it turns a finished report document into a page and
never reads the ledger (nothing here imports :mod:`faceledger.services` or
:mod:`faceledger.store`).

- :mod:`.document`: the document's ``SCHEMA``;
- :mod:`.figure`: palette, :class:`~.figure.Chart` and :func:`~.figure.draw` (inline SVG);
- :mod:`.charts`: every chart of a document; :mod:`.maps`: the map of geotagged faces;
- :mod:`.css`, :mod:`.html`: the self-contained page; :mod:`.pdf`: its print;
- :mod:`.evaluation`: ``faceledger evaluate`` summaries as charts, a section and a page;
- :mod:`.compare`: what changed between two documents.

The numbers come from :mod:`faceledger.services.oversight.report_numbers`; the use case (build, write,
compare) is :mod:`faceledger.services.oversight.report`; the command is ``faceledger report``.
"""
