"""Strategies: the API (:mod:`algodesk.strategies.base`) and the built-ins.

:func:`load_strategy` finds a built-in by name (``sma_cross``, ``ema_cross``,
``rsi_reversion``, ``breakout``) or a user's class as ``path/to/file.py:ClassName`` or
``package.module:ClassName``.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from algodesk.strategies.base import ParamError, Strategy, parse_params

__all__ = ["BUILTINS", "StrategyNotFoundError", "build_strategy", "load_strategy"]


def _builtins() -> dict[str, tuple[type[Strategy], dict[str, str]]]:
    from algodesk.strategies.breakout import Breakout  # noqa: PLC0415
    from algodesk.strategies.rsi_reversion import RsiReversion  # noqa: PLC0415
    from algodesk.strategies.sma_cross import SmaCross  # noqa: PLC0415

    return {
        "sma_cross": (SmaCross, {}),
        "ema_cross": (SmaCross, {"kind": "ema"}),
        "rsi_reversion": (RsiReversion, {}),
        "breakout": (Breakout, {}),
    }


BUILTINS = ("sma_cross", "ema_cross", "rsi_reversion", "breakout")


class StrategyNotFoundError(LookupError):
    """No built-in of that name and no loadable ``file.py:Class`` / ``module:Class``."""


def load_strategy(spec: str) -> tuple[type[Strategy], dict[str, str]]:
    """The strategy class named by ``spec`` and the parameter defaults the name implies."""
    found = _builtins().get(spec)
    if found is not None:
        return found
    if ":" not in spec:
        raise StrategyNotFoundError(
            f"unknown strategy {spec!r}; expected one of {', '.join(BUILTINS)} "
            "or path/to/file.py:ClassName or package.module:ClassName"
        )
    where, _, name = spec.rpartition(":")
    module: Any
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise StrategyNotFoundError(f"strategy file {path} does not exist")
        loader = importlib.util.spec_from_file_location(f"algodesk_user_{path.stem}", path)
        if loader is None or loader.loader is None:
            raise StrategyNotFoundError(f"cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise StrategyNotFoundError(f"cannot import {where}: {exc}") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyNotFoundError(f"{spec}: expected a subclass of Strategy named {name}")
    return cls, {}


def build_strategy(spec: str, given: dict[str, str]) -> Strategy:
    """An instance of ``spec`` with parameters from text (``ParamError`` on a bad one)."""
    cls, implied = load_strategy(spec)
    params = parse_params(cls.Params, {**implied, **given})
    return cls(params)


_ = ParamError  # re-exported for callers that catch it with the loader
