"""algodesk: a self-hosted trading desk where signals become risk-checked orders."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("algodesk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
