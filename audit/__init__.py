"""Audit trail: the auditor's verifier (``audit.verifier``, standalone) and the ledger-side
producer (the Merkle log projection, checkpoint signing, bundle export)."""
