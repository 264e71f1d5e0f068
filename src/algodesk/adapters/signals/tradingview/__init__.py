"""TradingView alert bodies → intents: :class:`TradingViewParser` (the ``AlertParser`` port).

A body is refused (an ``AlertRejection`` with a stable reason code) unless it can be read with
certainty: nothing is repaired or guessed.

**Guards.** At most 64 KiB (TOO_LARGE), UTF-8 (BAD_ENCODING), trimmed; empty is
NO_INSTRUCTION; a ``{{...}}`` left anywhere is UNRESOLVED_PLACEHOLDER.

**JSON** (the body starts with ``{`` or ``[``): strict; one object, or a list of objects for
several intents. Field names ignore case, ``_``, ``-`` and nesting dots (``stopLoss`` =
``stop_loss``; ``{"strategy": {"order_action": "buy"}}`` = ``strategy.order.action``)::

    {"secret": "...", "action": "buy", "symbol": "NSE:NIFTY", "qty": "75",
     "order_type": "limit", "price": "24310.5", "sl": "1%", "tp_points": 80,
     "bots": ["nifty-a"], "timenow": "{{timenow}}"}

=================  ==================================================================
action             action side direction signal type transactionType
                   strategy.order.action: buy long enter_long long_entry b...; sell short
                   s...; close exit flat exit_long closelong...; flatten closeall;
                   reverse; cancel (TradersPost buy/sell with sentiment flat: close)
symbol             symbol ticker instrument pair tradingsymbol tv_instrument sy; or an
                   option: underlying+expiry+offset+option_type → ``NIFTY:nearest:OTM2:CE``
size               quantity qty contracts size amount volume order_size: ``10`` units or
                   ``5%`` of equity (quantity_type may say which); risk: % of equity at
                   risk; position_size: the signed target position (no action needed)
order type         order_type (or type): market (default), limit, stop, stop_limit
prices             price/limit_price/entry: limit or trigger (stop_price); on a market
                   order a signal price, like signalPrice, trigger_price and close
exits              stop_loss/sl, take_profit/tp: a price, or ``"2%"``; *_percent,
                   *_points; TradersPost ``stopLoss``/``takeProfit`` objects; trailing
                   ``"1.5%"``, trailing_percent, trailing_points
bots               bot or bots: names of the bots addressed (default: the hook's bot)
timenow            ``{{timenow}}``: the firing time, for staleness and dedupe
secret             the hook's secret field (default ``secret``); other secret names
                   (key, passphrase, token, apikey...) are ignored and redacted
=================  ==================================================================

Other fields are ignored. Numbers may be JSON numbers or strings; ``NaN``, exponents,
thousands separators, and units other than ``%`` (``$20``, ``3x``, ``%5``, pips, lots) are
refused; ``na`` or empty in an instruction field is refused (leave the field out instead).

**Text** (one alert, no secret except in KEY=VALUE): ``KEY=VALUE`` entries by line, ``;`` or
``,`` with the JSON names (``SYMBOL=BTCUSDT`` / ``SIGNAL=BUY`` / ``VOLUME=0.01``); pipe
``SYMBOL|ACTION[|PRICE[|INTERVAL]]``; csv ``ACTION,SYMBOL[,QUANTITY[,PRICE]]`` or
``SYMBOL,ACTION[,QUANTITY]``; words ``ACTION [SYMBOL [QUANTITY]]``. Other text (TradingView's
default "EURUSD Less Than 1.06304") is NO_INSTRUCTION: not an order.

Reason codes: TOO_LARGE, BAD_ENCODING, NO_INSTRUCTION, UNRESOLVED_PLACEHOLDER, INVALID_JSON,
AMBIGUOUS (repeated or disagreeing fields, ``tp1``/``tp2``, two action words in csv),
UNKNOWN_ACTION, UNKNOWN_UNITS, BAD_VALUE, MISSING_SYMBOL. The modules document each rule.
"""

from algodesk.adapters.signals.tradingview.parser import (
    MAX_BODY_BYTES,
    TradingViewParser,
    parse_alert,
)

__all__ = ["MAX_BODY_BYTES", "TradingViewParser", "parse_alert"]
