"""Proof for auditors: the audit log and its checkpoints, the report and its numbers."""
