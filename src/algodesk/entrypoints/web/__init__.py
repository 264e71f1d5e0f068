"""The dashboard: Jinja2 page shells whose small ES modules use only the public REST and
WebSocket API (``/api/v1``), as any other client would."""

from algodesk.entrypoints.web.pages import PAGES, Page, mount_dashboard

__all__ = ["PAGES", "Page", "mount_dashboard"]
