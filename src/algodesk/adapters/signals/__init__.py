"""Signal adapters: parsers that turn a raw alert body into intents (TradingView)."""
