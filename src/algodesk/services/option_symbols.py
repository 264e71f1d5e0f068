"""Option symbols resolved when an alert arrives: the instrument master's chain and the
underlying's current mark.

``NIFTY:nearest:OTM2:CE`` (:class:`~algodesk.domain.market.option_symbols.OptionSymbol`) becomes a
listed contract with the listed expiries and strikes of the underlying on the bot's venue and
the latest validated mark of the underlying's spot index (``NIFTY_50.NSE`` for NIFTY, from the
dated reference table). Expiry rules count from the exchange's local date (IST by default). A
refusal is an :class:`OptionUnresolved` with a stable code, which becomes the alert's reason:

================== =============================================================================
``no_spot``        no spot index is known for the underlying, or it has no mark yet
``stale_spot``     the underlying's mark is older than ``max_spot_age`` (default 60 s)
``no_option_chain`` no options of the underlying are listed on the venue in the instrument master
``no_expiry``      the expiry rule or date names no listed expiry (or one in the past)
``no_strike``      the offset runs off the listed strikes (or none are listed for the expiry)
================== =============================================================================
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass
from algodesk.domain.market.option_symbols import OptionSymbol
from algodesk.domain.market.options import OptionChain, OptionChainError, ResolvedOption
from algodesk.domain.values import canonical_decimal
from algodesk.ports.clock import Clock
from algodesk.ports.instruments import InstrumentStore
from algodesk.ports.market import MarketView

__all__ = ["OptionResolver", "OptionUnresolved", "resolved_json"]

IST: Final = ZoneInfo("Asia/Kolkata")

_CODES: Final = {
    "NO_SUCH_UNDERLYING": "no_option_chain",
    "AMBIGUOUS_VENUE": "no_option_chain",
    "NO_EXPIRY": "no_expiry",
    "EXPIRY_PASSED": "no_expiry",
    "BAD_EXPIRY_RULE": "no_expiry",
    "NO_STRIKES": "no_strike",
    "STRIKE_OFF_CHAIN": "no_strike",
    "NO_SUCH_CONTRACT": "no_strike",
    "SPOT_NOT_POSITIVE": "no_spot",
}


class OptionUnresolved(Exception):
    """An option symbol that names no contract now; ``code`` is one of the module's codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def resolved_json(target: OptionSymbol, found: ResolvedOption) -> dict[str, object]:
    """What an alert's fate and ``explain`` show of a resolution."""
    inst = found.instrument
    return {
        "target": target.value,
        "contract": inst.id.value,
        "underlying": found.underlying,
        "spot": canonical_decimal(found.spot),
        "spot_at": found.spot_at.isoformat().replace("+00:00", "Z"),
        "expiry": found.expiry.isoformat(),
        "strike": canonical_decimal(found.strike),
        "atm_strike": canonical_decimal(found.atm_strike),
        "lot_size": canonical_decimal(inst.lot_size),
        "freeze_quantity": (
            canonical_decimal(inst.freeze_quantity) if inst.freeze_quantity is not None else None
        ),
    }


class OptionResolver:
    """Resolves option symbols against the instrument master and the market's marks.

    ``spot_of`` names the instrument whose mark is the underlying's price (bootstrap passes the
    reference table's index). Chains are built from the master once per ``cache_for`` per
    underlying and venue (the master changes once a day).
    """

    def __init__(
        self,
        instruments: InstrumentStore,
        market: MarketView,
        clock: Clock,
        spot_of: Callable[[str], InstrumentId | None],
        *,
        max_spot_age: timedelta = timedelta(seconds=60),
        zone: ZoneInfo = IST,
        cache_for: timedelta = timedelta(minutes=1),
    ) -> None:
        self._instruments = instruments
        self._market = market
        self._clock = clock
        self._spot_of = spot_of
        self.max_spot_age = max_spot_age
        self._zone = zone
        self._cache_for = cache_for
        self._chains: dict[tuple[str, Venue], tuple[datetime, OptionChain]] = {}
        self._guard = threading.Lock()

    def forget(self) -> None:
        """Drop cached chains (after an instrument import)."""
        with self._guard:
            self._chains.clear()

    def chain(self, underlying: str, venue: Venue) -> OptionChain:
        """The listed options of ``underlying`` on ``venue`` (``no_option_chain`` when none)."""
        now = self._clock.now()
        key = (underlying, venue)
        with self._guard:
            cached = self._chains.get(key)
        if cached is not None and now - cached[0] < self._cache_for:
            return cached[1]
        listed = self._instruments.find(
            venue=venue, underlying=underlying, asset_class=AssetClass.OPTION
        )
        if not listed:
            raise OptionUnresolved(
                "no_option_chain",
                f"no {underlying} options on {venue} in the instrument master "
                "(import it with `algodesk instruments import`)",
            )
        chain = OptionChain(listed)
        with self._guard:
            self._chains[key] = (now, chain)
        return chain

    def today(self) -> date:
        """The exchange's local date, which expiry rules count from."""
        return self._clock.now().astimezone(self._zone).date()

    def check(self, target: OptionSymbol) -> None:
        """What can be checked before any alert (a bot's create or edit): the venue lists
        options of the underlying, a spot index is known for it, and an expiry date given
        explicitly is listed and not past."""
        chain = self.chain(target.underlying, target.venue)
        if self._spot_of(target.underlying) is None:
            raise OptionUnresolved(
                "no_spot", f"no spot index is known for {target.underlying}: its price is unknown"
            )
        if isinstance(target.expiry, date):
            try:
                chain.resolve_expiry(target.underlying, target.expiry, self.today(), target.venue)
            except OptionChainError as exc:
                raise OptionUnresolved(_CODES.get(exc.code, "no_expiry"), exc.message) from None

    def resolve(self, target: OptionSymbol) -> ResolvedOption:
        """The contract ``target`` names now, with the spot and expiry it was resolved from."""
        chain = self.chain(target.underlying, target.venue)
        spot_id = self._spot_of(target.underlying)
        if spot_id is None:
            raise OptionUnresolved(
                "no_spot", f"no spot index is known for {target.underlying}: its price is unknown"
            )
        mark = self._market.mark(spot_id)
        if mark is None:
            raise OptionUnresolved(
                "no_spot",
                f"no mark for {spot_id} (the price of {target.underlying})",
            )
        now = self._clock.now()
        age = now - mark.ts
        if age > self.max_spot_age:
            raise OptionUnresolved(
                "stale_spot",
                f"the mark of {spot_id} ({canonical_decimal(mark.price)} at "
                f"{mark.ts.isoformat()}) is {int(age.total_seconds())} s old, older than "
                f"{int(self.max_spot_age.total_seconds())} s",
            )
        try:
            return chain.resolve(
                target.underlying,
                expiry=target.expiry,
                offset=target.offset,
                right=target.right,
                spot=mark.price,
                spot_at=mark.ts,
                today=self.today(),
                venue=target.venue,
            )
        except OptionChainError as exc:
            raise OptionUnresolved(_CODES.get(exc.code, "no_strike"), exc.message) from None
