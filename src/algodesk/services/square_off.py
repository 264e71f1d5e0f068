"""Square-off of intraday positions at a configured exchange-local time.

Brokers square off intraday (MIS) positions themselves around 15:15–15:25 IST, at their price
and with a fee; a desk that trades intraday flattens earlier on its own terms. Each rule names a
venue and a local time; from that time until the session closes (on a half day that closes
earlier, from ten minutes before the close), every account's positions and working orders in
that venue's instruments are flattened once per session; a flatten the engine refuses is tried
again on the next run (the flatten carries
a key per venue, day and instrument, so a restart or a second run repeats nothing).

Every position on a configured venue is treated as intraday: configure rules only for venues
(segments) the desk trades intraday, and only for venues with sessions (a 24/7 venue's "close"
is midnight). A rule whose venue holds nothing is skipped before its calendar is read, so
running this every second costs one look at the open instruments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, time, timedelta

from algodesk.domain.commands import Flatten
from algodesk.domain.identifiers import Venue
from algodesk.ports.calendar import Calendars, CalendarUnavailableError
from algodesk.ports.clock import Clock
from algodesk.services.engine import Engine
from algodesk.services.outcomes import Outcome

__all__ = ["SquareOff", "SquareOffRule"]

_log = logging.getLogger(__name__)

#: When a session closes before a rule's time (a half day), square off this long before it.
_EARLY_CLOSE_LEAD = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SquareOffRule:
    venue: Venue
    at: time  # exchange-local wall time, e.g. 15:10 for NSE


class SquareOff:
    def __init__(
        self, engine: Engine, calendars: Calendars, rules: list[SquareOffRule], clock: Clock
    ) -> None:
        self._engine, self._calendars, self._rules, self._clock = engine, calendars, rules, clock
        self._done: set[tuple[Venue, date]] = set()

    def run_due(self) -> list[Outcome]:
        """Flatten what is due now; call it every few seconds."""
        now = self._clock.now()
        outcomes: list[Outcome] = []
        if not self._rules:
            return outcomes
        held = [(a, iid) for a in self._engine.accounts for iid in self._engine.open_instruments(a)]
        venues = {iid.venue for _, iid in held}
        for rule in self._rules:
            if rule.venue not in venues:
                continue  # nothing to square off there
            try:
                calendar = self._calendars.for_venue(rule.venue)
                day = calendar.trading_day(now)
                session = calendar.session(day)
                cutoff = calendar.at(day, rule.at)
            except CalendarUnavailableError as exc:
                _log.error("square-off for %s cannot run: %s", rule.venue, exc)
                continue
            if session is None or (rule.venue, day) in self._done:
                continue
            # On a half day the rule's time may fall after the close: go before the close.
            start = min(cutoff, session.close - _EARLY_CLOSE_LEAD)
            if not start <= now < session.close:
                continue
            failed = False
            for account, iid in held:
                if iid.venue != rule.venue:
                    continue
                outcome = self._engine.handle(
                    Flatten(
                        account_id=account,
                        instrument_id=iid,
                        idempotency_key=f"squareoff:{rule.venue}:{day}:{iid}",
                    )
                )
                _log.info("square-off %s %s on %s: %s", account, iid, day, outcome)
                outcomes.append(outcome)
                failed = failed or not outcome.ok
            if not failed:  # a refused flatten is tried again on the next run
                self._done.add((rule.venue, day))
        return outcomes
