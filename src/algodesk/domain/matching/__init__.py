"""The one fill engine of paper trading and backtests, with its fee and slippage models.

Public API:

* :class:`MatchingEngine` with :meth:`~MatchingEngine.on_quote` and :meth:`~MatchingEngine.on_bar`,
  configured by a frozen :class:`FillModel`; results are :class:`MatchResult` /
  :class:`Execution`; :func:`expire_due` for DAY/GTD expiry.
* Observations :class:`Quote` and :class:`Bar`; :func:`bar_path` with :class:`BarPathMode`.
* Fees: :class:`FeeModel`, :class:`Liquidity`, :class:`NoFees`, :class:`PercentFee`,
  :class:`PerOrderFee`, :class:`PerContractFee`, :class:`NseOptionsFee` (dated
  :class:`NseOptionsRates`), :func:`estimate_round_trip_bps`.
* Slippage: :class:`SlippageModel`, :class:`NoSlippage`, :class:`BpsSlippage`,
  :class:`TickSlippage`.

Importing the package reads no file: the shipped NSE rates load only in
:func:`load_default_rates`.
"""

from algodesk.domain.matching.engine import (
    Execution,
    FillModel,
    MatchingEngine,
    MatchResult,
    expire_due,
)
from algodesk.domain.matching.fees import (
    FeeModel,
    Liquidity,
    NoFees,
    PercentFee,
    PerContractFee,
    PerOrderFee,
    estimate_round_trip_bps,
)
from algodesk.domain.matching.nse_options import (
    NseCharges,
    NseOptionsFee,
    NseOptionsRates,
    load_default_rates,
    parse_nse_options_rates,
    rates_in_force,
)
from algodesk.domain.matching.observations import Bar, Quote, TradeTick
from algodesk.domain.matching.paths import BarPathMode, bar_path
from algodesk.domain.matching.slippage import (
    BpsSlippage,
    NoSlippage,
    SlippageModel,
    TickSlippage,
    adverse_tick_round,
)

__all__ = [
    "Bar",
    "BarPathMode",
    "BpsSlippage",
    "Execution",
    "FeeModel",
    "FillModel",
    "Liquidity",
    "MatchResult",
    "MatchingEngine",
    "NoFees",
    "NoSlippage",
    "NseCharges",
    "NseOptionsFee",
    "NseOptionsRates",
    "PerContractFee",
    "PerOrderFee",
    "PercentFee",
    "Quote",
    "SlippageModel",
    "TickSlippage",
    "TradeTick",
    "adverse_tick_round",
    "bar_path",
    "estimate_round_trip_bps",
    "expire_due",
    "load_default_rates",
    "parse_nse_options_rates",
    "rates_in_force",
]
