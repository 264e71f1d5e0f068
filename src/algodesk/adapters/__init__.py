"""Adapters: concrete implementations of the ports (storage, brokers, feeds, notifiers)."""
