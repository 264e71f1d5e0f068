"""Configuration of the paper exchange (frozen; unknown fields impossible)."""

from __future__ import annotations

from dataclasses import dataclass, field

from algodesk.domain.identifiers import Venue
from algodesk.domain.matching import FillModel

__all__ = ["PAPER", "PaperBrokerConfig"]

PAPER = Venue("PAPER")


@dataclass(frozen=True, slots=True)
class PaperBrokerConfig:
    """``venue``: the venue name orders are routed by (``PAPER``, or a real venue's name to
    paper-trade its instruments); ``fill_model``: fills, slippage, fees and the seed."""

    venue: Venue = PAPER
    fill_model: FillModel = field(default_factory=FillModel)
