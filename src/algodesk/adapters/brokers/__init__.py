"""Broker adapters, one folder per venue with the same file set; none imports another.

``paper/`` is the paper exchange; real brokers (Kite, Breeze, Alpaca, ccxt) come later.
"""
