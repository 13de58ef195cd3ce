"""Audit trail: the auditor's verifier (``audit.verifier``, standalone) and the ledger-side
producer (the Merkle log projection, signed checkpoints, bundle export)."""
