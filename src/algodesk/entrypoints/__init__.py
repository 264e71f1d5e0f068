"""Entry points: the CLI (now), the REST API and the dashboard (later). They call services."""
