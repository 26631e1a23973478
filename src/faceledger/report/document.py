"""The report document's format, shared by the service that fills it and the modules that
render or compare it.

Example::

    document["schema"] == SCHEMA                     # "faceledger.report/1"

The numbers are gathered by :func:`faceledger.services.oversight.report_numbers.report_numbers` (stable
keys: add, never rename); everything in :mod:`faceledger.report` only reads a finished
document and never touches the ledger.
"""

#: The ``schema`` of every report document; :func:`~faceledger.report.compare.compare_reports`
#: refuses any other.
SCHEMA = "faceledger.report/1"
