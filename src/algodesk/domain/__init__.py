"""The pure core: values, instruments, orders, the ledger, risk, matching, exits and bots.

No I/O, no clock reads, no framework.
"""
