"""The ledger: append-only entries with balanced postings, a SHA-256 hash chain and FIFO lots."""
