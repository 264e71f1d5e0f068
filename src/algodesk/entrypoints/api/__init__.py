"""The HTTP entry point: FastAPI routes for webhooks, the REST API and the live stream."""
