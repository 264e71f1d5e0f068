"""Instrument master importers: the Kite Connect instruments CSV and a generic CSV."""
