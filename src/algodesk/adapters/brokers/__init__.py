"""Broker adapters, one folder per venue with the same file set; none imports another.

The paper exchange arrives with the engine (issue 3); real brokers after it.
"""
