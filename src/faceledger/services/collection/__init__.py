"""Getting photos in: ingest, fetch (with TDM signals), scan for faces, the ledger's own setup and status."""
