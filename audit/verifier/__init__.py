"""The auditor's verifier: it checks a bundle with nothing but its files.

It imports only the standard library, ``cryptography`` and ``openpyxl`` (never the ledger, its
read models, SQLAlchemy or eventsourcing), so an auditor can read it and trust it alone; the
import contracts in pyproject.toml hold it so. It holds no private key: the ledger side
(``audit.log``, ``audit.bundle``, ``audit.trail``, ``audit.signing``) signs, and imports the
pure parts of the verifier (hashing, Merkle proofs, the checkpoint format, layout).
"""
