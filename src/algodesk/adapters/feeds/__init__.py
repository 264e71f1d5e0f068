"""Market-data adapters: replay, polling and WebSocket feeds, and exchange calendars."""
