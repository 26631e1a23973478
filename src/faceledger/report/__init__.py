"""The audit report: every figure from the ledger (:mod:`.numbers`), charts (:mod:`.charts`,
:mod:`.maps`), a self-contained HTML page (:mod:`.html`), its PDF print (:mod:`.pdf`) and
the differences between two reports (:mod:`.compare`).

The use case (build, write, compare) is :mod:`faceledger.services.report`; the command is
``faceledger report``.
"""
