"""The pure core: values, instruments, orders, fills, the ledger. No I/O, clock or framework."""
