"""The ledger: one relational database through SQLAlchemy (SQLite by default, PostgreSQL by
URL), its schema and migrations, and the repositories the services call.

Example::

    ledger = open_ledger("sqlite:///faceledger.db")   # migrates to the newest schema
    with ledger.begin() as conn:
        audit.append(conn, AuditRecord(name="ingest", actor="cli", payload={}))
"""

from faceledger.store.ledger import Ledger, open_ledger

__all__ = ["Ledger", "open_ledger"]
