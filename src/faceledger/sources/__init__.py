"""Where photos come from: folders of images and manifests (YFCC100M TSV, CSV, TSV, JSON Lines,
Parquet). Readers yield batches of normalised rows and rejected lines; they never touch the
ledger. See :func:`faceledger.sources.manifests.read_manifest`.
"""
