"""Bars stored as Parquet files, one per instrument and timeframe."""
