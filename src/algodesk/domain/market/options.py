"""Option chains: listed expiries and strikes of an underlying, and ATM / ITMn / OTMn resolution.

An :class:`OptionChain` is built from the day's instrument master (every :class:`Instrument` with
``asset_class`` OPTION; other instruments are ignored). It answers from the **listed** contracts
only: an expiry or strike that is not in the master is never invented (no
``round(spot / interval) × interval``).

Expiry rules are evaluated on the listed expiries relative to ``today`` (an argument: the domain
reads no clock). A contract expiring today still counts: it trades until today's close; a caller
resolving after the close passes the next trading day as ``today``.

- ``nearest`` / ``weekly``: the first listed expiry on or after ``today``;
  ``next-weekly``: the one after it.
- ``monthly``: the first monthly expiry on or after ``today``; ``next-monthly``: the one after.
  A monthly is an option expiry on which the underlying's future also expires (NSE/BSE futures
  are monthly only); when the master holds no futures for it, the last listed expiry of each
  calendar month. A holiday-moved expiry (24 Nov 2026 → Monday 23 Nov) is
  whatever the master lists, so the rules follow it without a calendar.

Strike offsets follow the ATM / ITMn / OTMn rule: ATM is the listed strike nearest the spot (a tie
goes to the lower strike); for a call ITMn is n listed strikes below ATM and OTMn n above; for a
put ITMn is n above and OTMn n below; running off the list is refused. Every refusal is an
:class:`OptionChainError` with a stable ``code``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from algodesk.domain.fills import require_utc
from algodesk.domain.identifiers import Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.values import canonical_decimal, to_decimal

__all__ = [
    "MAX_OFFSET_STEPS",
    "ExpiryRule",
    "Moneyness",
    "OptionChain",
    "OptionChainError",
    "ResolvedOption",
    "StrikeOffset",
    "parse_expiry",
]

#: ``ITM1``..``ITM50`` and ``OTM1``..``OTM50``.
MAX_OFFSET_STEPS: Final = 50


class OptionChainError(ValueError):
    """A refusal to resolve an option; ``code`` is stable, the message carries the numbers.

    Codes: ``NO_SUCH_UNDERLYING``, ``AMBIGUOUS_VENUE``, ``NO_EXPIRY``, ``EXPIRY_PASSED``,
    ``BAD_EXPIRY_RULE``, ``NO_STRIKES``, ``SPOT_NOT_POSITIVE``, ``STRIKE_OFF_CHAIN``,
    ``NO_SUCH_CONTRACT``, ``BAD_OFFSET``, ``BAD_RIGHT``, ``DUPLICATE_CONTRACT``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ExpiryRule(StrEnum):
    NEAREST = "nearest"
    WEEKLY = "weekly"
    NEXT_WEEKLY = "next-weekly"
    MONTHLY = "monthly"
    NEXT_MONTHLY = "next-monthly"

    @classmethod
    def parse(cls, text: str) -> ExpiryRule:
        """``nearest``, ``weekly``, ``next-weekly``, ``monthly``, ``next-monthly``; any case,
        ``_`` or a space in place of ``-``."""
        key = re.sub(r"[\s_]+", "-", text.strip().lower())
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(rule.value for rule in cls)
            raise OptionChainError(
                "BAD_EXPIRY_RULE", f"expected a date (YYYY-MM-DD) or one of {names}, was {text!r}"
            ) from None


def parse_expiry(text: str) -> date | ExpiryRule:
    """An explicit ISO date (``2026-12-29``) or an :class:`ExpiryRule` name."""
    stripped = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", stripped):
        try:
            return date.fromisoformat(stripped)
        except ValueError:
            raise OptionChainError(
                "BAD_EXPIRY_RULE", f"expected a real calendar date, was {text!r}"
            ) from None
    return ExpiryRule.parse(stripped)


class Moneyness(StrEnum):
    ATM = "ATM"
    ITM = "ITM"
    OTM = "OTM"


_OFFSET = re.compile(r"^(ATM|ITM|OTM)(\d+)?$")


@dataclass(frozen=True, slots=True)
class StrikeOffset:
    """``ATM`` (``steps`` 0), or ``ITMn`` / ``OTMn`` with ``steps`` n in 1..50."""

    moneyness: Moneyness
    steps: int = 0

    def __post_init__(self) -> None:
        if self.moneyness is Moneyness.ATM:
            if self.steps != 0:
                raise OptionChainError("BAD_OFFSET", f"ATM takes no steps, was ATM{self.steps}")
        elif not 1 <= self.steps <= MAX_OFFSET_STEPS:
            raise OptionChainError(
                "BAD_OFFSET",
                f"expected {self.moneyness}1..{self.moneyness}{MAX_OFFSET_STEPS}, "
                f"was {self.moneyness}{self.steps}",
            )

    @classmethod
    def parse(cls, text: str) -> StrikeOffset:
        """``ATM``, ``ITM1``..``ITM50``, ``OTM1``..``OTM50``, any case."""
        match = _OFFSET.match(text.strip().upper())
        if match is None:
            raise OptionChainError(
                "BAD_OFFSET",
                f"expected ATM, ITM1..ITM{MAX_OFFSET_STEPS} or OTM1..OTM{MAX_OFFSET_STEPS}, "
                f"was {text!r}",
            )
        moneyness = Moneyness(match.group(1))
        digits = match.group(2)
        if moneyness is Moneyness.ATM:
            if digits is not None:
                raise OptionChainError("BAD_OFFSET", f"ATM takes no number, was {text!r}")
            return cls(moneyness)
        if digits is None:
            raise OptionChainError(
                "BAD_OFFSET", f"expected a number of strikes after {moneyness}, was {text!r}"
            )
        return cls(moneyness, int(digits))

    def index_shift(self, right: OptionRight) -> int:
        """How many listed strikes from ATM, upwards positive: a call's ITM is below ATM."""
        if self.moneyness is Moneyness.ATM:
            return 0
        up = (self.moneyness is Moneyness.OTM) == (right is OptionRight.CALL)
        return self.steps if up else -self.steps

    def __str__(self) -> str:
        return "ATM" if self.moneyness is Moneyness.ATM else f"{self.moneyness}{self.steps}"


@dataclass(frozen=True, slots=True)
class ResolvedOption:
    """The contract an offset resolved to, and what it was resolved from, for the order record."""

    instrument: Instrument
    underlying: str
    expiry: date
    right: OptionRight
    offset: StrikeOffset
    atm_strike: Decimal
    spot: Decimal
    spot_at: datetime

    @property
    def strike(self) -> Decimal:
        assert self.instrument.strike is not None  # an OPTION always has one
        return self.instrument.strike


# underlying (upper case) -> venue -> expiry -> right -> strike -> instrument
_Contracts = dict[str, dict[Venue, dict[date, dict[OptionRight, dict[Decimal, Instrument]]]]]


def _right(value: OptionRight | str) -> OptionRight:
    if isinstance(value, OptionRight):
        return value
    try:
        return OptionRight.parse(value)
    except ValueError as exc:
        raise OptionChainError("BAD_RIGHT", str(exc)) from None


def _num(value: Decimal) -> str:
    return canonical_decimal(value)


class OptionChain:
    """The listed option contracts of a set of instruments, indexed for resolution."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        contracts: _Contracts = {}
        futures: dict[tuple[str, Venue], set[date]] = {}
        for inst in instruments:
            if inst.asset_class is AssetClass.FUTURE and inst.underlying and inst.expiry:
                futures.setdefault((inst.underlying.upper(), inst.venue), set()).add(inst.expiry)
            if inst.asset_class is not AssetClass.OPTION:
                continue
            # An OPTION always has these (Instrument checks); the asserts narrow the types.
            assert inst.underlying is not None
            assert inst.expiry is not None
            assert inst.right is not None
            assert inst.strike is not None
            by_strike = (
                contracts.setdefault(inst.underlying.upper(), {})
                .setdefault(inst.venue, {})
                .setdefault(inst.expiry, {})
                .setdefault(inst.right, {})
            )
            known = by_strike.get(inst.strike)
            if known is not None and known != inst:
                raise OptionChainError(
                    "DUPLICATE_CONTRACT",
                    f"{known.id} and {inst.id} are both {inst.underlying} {inst.expiry} "
                    f"{_num(inst.strike)} {inst.right} on {inst.venue}",
                )
            by_strike[inst.strike] = inst
        self._contracts = contracts
        self._futures = futures
        self._strikes: dict[tuple[str, Venue, date, OptionRight], tuple[Decimal, ...]] = {
            (name, venue, expiry, right): tuple(sorted(by_strike))
            for name, venues in contracts.items()
            for venue, expiries in venues.items()
            for expiry, rights in expiries.items()
            for right, by_strike in rights.items()
        }

    # --- listing -----------------------------------------------------------------------------

    def underlyings(self) -> tuple[str, ...]:
        """The underlying names with listed options, sorted."""
        return tuple(sorted(self._contracts))

    def _venues(
        self, underlying: str, venue: Venue | str | None
    ) -> Mapping[Venue, dict[date, dict[OptionRight, dict[Decimal, Instrument]]]]:
        name = underlying.strip().upper()
        venues = self._contracts.get(name)
        if not venues:
            raise OptionChainError(
                "NO_SUCH_UNDERLYING", f"no options listed for underlying {underlying!r}"
            )
        if venue is None:
            return venues
        wanted = venue if isinstance(venue, Venue) else Venue(venue.strip().upper())
        if wanted not in venues:
            listed = ", ".join(sorted(str(v) for v in venues))
            raise OptionChainError(
                "NO_SUCH_UNDERLYING",
                f"no {name} options listed on {wanted} (listed on {listed})",
            )
        return {wanted: venues[wanted]}

    def _one_venue(self, underlying: str, venue: Venue | str | None) -> Venue:
        venues = self._venues(underlying, venue)
        if len(venues) > 1:
            listed = ", ".join(sorted(str(v) for v in venues))
            raise OptionChainError(
                "AMBIGUOUS_VENUE",
                f"{underlying.strip().upper()} options are listed on {listed}: name the venue",
            )
        return next(iter(venues))

    def expiries(self, underlying: str, venue: Venue | str | None = None) -> tuple[date, ...]:
        """Every listed expiry of ``underlying`` (on ``venue``, or on any venue), ascending."""
        venues = self._venues(underlying, venue)
        return tuple(sorted({expiry for expiries in venues.values() for expiry in expiries}))

    def strikes(
        self,
        underlying: str,
        expiry: date,
        right: OptionRight | str,
        venue: Venue | str | None = None,
    ) -> tuple[Decimal, ...]:
        """The listed strikes for (underlying, expiry, right), ascending; empty when none."""
        on = self._one_venue(underlying, venue)
        return self._strikes.get((underlying.strip().upper(), on, expiry, _right(right)), ())

    def contract(
        self,
        underlying: str,
        expiry: date,
        strike: Decimal,
        right: OptionRight | str,
        venue: Venue | str | None = None,
    ) -> Instrument:
        """The listed contract, or ``NO_SUCH_CONTRACT``."""
        on = self._one_venue(underlying, venue)
        name = underlying.strip().upper()
        side = _right(right)
        found = self._contracts[name][on].get(expiry, {}).get(side, {}).get(to_decimal(strike))
        if found is None:
            raise OptionChainError(
                "NO_SUCH_CONTRACT",
                f"no {name} {expiry} {_num(to_decimal(strike))} {side} listed on {on}",
            )
        return found

    # --- resolution --------------------------------------------------------------------------

    def _monthlies(
        self, name: str, venue: Venue | str | None, listed: Sequence[date]
    ) -> list[date]:
        """The monthly expiries among ``listed``. NSE/BSE futures expire only on monthly
        expiries, so where the master lists the underlying's futures, a monthly is an option
        expiry shared with a future. That stays right when a holiday moves a weekly expiry
        into the previous month (a Tuesday the 1st of May), which the fallback, the last listed
        expiry of each calendar month, would mistake for the monthly."""
        venues = self._venues(name, venue)
        shared = set().union(*(self._futures.get((name, v), set()) for v in venues))
        if shared:
            return sorted(d for d in listed if d in shared)
        last_of_month: dict[tuple[int, int], date] = {}
        for d in listed:  # ascending: the last one of each month wins
            last_of_month[(d.year, d.month)] = d
        return sorted(last_of_month.values())

    def resolve_expiry(
        self,
        underlying: str,
        rule: date | ExpiryRule | str,
        today: date,
        venue: Venue | str | None = None,
    ) -> date:
        """The listed expiry that ``rule`` names, as seen on ``today``."""
        name = underlying.strip().upper()
        spec = parse_expiry(rule) if isinstance(rule, str) else rule
        listed = self.expiries(underlying, venue)
        if not isinstance(spec, ExpiryRule):
            if spec < today:
                raise OptionChainError(
                    "EXPIRY_PASSED", f"{name} expiry {spec} is before today ({today})"
                )
            if spec not in listed:
                upcoming = ", ".join([str(d) for d in listed if d >= today][:6]) or "none"
                raise OptionChainError(
                    "NO_EXPIRY", f"{name} has no listed expiry on {spec} (upcoming: {upcoming})"
                )
            return spec
        upcoming_all = [d for d in listed if d >= today]
        if spec in (ExpiryRule.NEAREST, ExpiryRule.WEEKLY, ExpiryRule.NEXT_WEEKLY):
            candidates = upcoming_all
            position = 1 if spec is ExpiryRule.NEXT_WEEKLY else 0
        else:
            candidates = [d for d in self._monthlies(name, venue, listed) if d >= today]
            position = 1 if spec is ExpiryRule.NEXT_MONTHLY else 0
        if len(candidates) <= position:
            shown = ", ".join(str(d) for d in candidates) or "none"
            raise OptionChainError(
                "NO_EXPIRY",
                f"{name}: no listed expiry for rule {spec.value} on or after {today} "
                f"(candidates: {shown})",
            )
        return candidates[position]

    @staticmethod
    def atm_strike(strikes: tuple[Decimal, ...], spot: Decimal) -> Decimal:
        """The listed strike nearest ``spot``; a tie goes to the lower strike."""
        if not strikes:
            raise OptionChainError("NO_STRIKES", "no listed strikes to choose from")
        return min(strikes, key=lambda k: (abs(k - spot), k))

    def resolve(
        self,
        underlying: str,
        *,
        expiry: date | ExpiryRule | str,
        offset: StrikeOffset | str,
        right: OptionRight | str,
        spot: Decimal,
        spot_at: datetime,
        today: date,
        venue: Venue | str | None = None,
    ) -> ResolvedOption:
        """Resolve ``offset`` on the listed strikes of the ``expiry`` the rule names.

        ``spot`` is the underlying's price (index spot, or the named future), observed at
        ``spot_at`` (UTC); it must be > 0 — a zero spot on a holiday would otherwise pick the
        lowest strike. Its freshness is the caller's to check.
        """
        name = underlying.strip().upper()
        side = _right(right)
        step = StrikeOffset.parse(offset) if isinstance(offset, str) else offset
        price = to_decimal(spot)
        require_utc("spot_at", spot_at)
        if price <= 0:
            raise OptionChainError(
                "SPOT_NOT_POSITIVE",
                f"{name}: expected a spot price > 0, was {_num(price)} (at {spot_at.isoformat()})",
            )
        on = self._one_venue(underlying, venue)
        when = self.resolve_expiry(underlying, expiry, today, on)
        strikes = self._strikes.get((name, on, when, side), ())
        if not strikes:
            raise OptionChainError("NO_STRIKES", f"{name} {when}: no {side} strikes listed on {on}")
        atm = self.atm_strike(strikes, price)
        atm_index = strikes.index(atm)
        target = atm_index + step.index_shift(side)
        if not 0 <= target < len(strikes):
            direction = "above" if target > atm_index else "below"
            available = len(strikes) - 1 - atm_index if target > atm_index else atm_index
            raise OptionChainError(
                "STRIKE_OFF_CHAIN",
                f"{name} {when} {side} {step}: needs {abs(target - atm_index)} listed strikes "
                f"{direction} the ATM strike {_num(atm)} (spot {_num(price)}), but only "
                f"{available} are listed ({_num(strikes[0])}..{_num(strikes[-1])})",
            )
        strike = strikes[target]
        return ResolvedOption(
            instrument=self._contracts[name][on][when][side][strike],
            underlying=name,
            expiry=when,
            right=side,
            offset=step,
            atm_strike=atm,
            spot=price,
            spot_at=spot_at,
        )
