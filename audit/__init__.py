"""Audit trail: Merkle log hashing, signed checkpoints, export and verification."""
