"""The auditor's verifier: it checks a bundle with nothing but its files.

It imports only the standard library, ``cryptography`` and ``openpyxl`` (never the ledger, its
read models, SQLAlchemy or eventsourcing), so an auditor can read it and trust it alone; the
import contracts in pyproject.toml hold it so. The ledger side (``audit.log``, ``audit.bundle``,
``audit.trail``) may import the pure parts of it (hashing, Merkle proofs, checkpoints, layout).
"""
