"""Market data in the domain: timeframes, sessions, tick validation, staleness, bars, option
chains and order slicing. Pure: no I/O, no clock reads; times come in as arguments (UTC)."""
