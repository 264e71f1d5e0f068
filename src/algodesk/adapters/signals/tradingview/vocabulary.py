"""The words of the alert dialects: field names and values, normalised to one closed set.

Field names are compared after :func:`normalise_key`: lower case, without ``_``, ``-``, ``.``
and spaces, so ``stopLoss``, ``stop_loss``, ``stop-loss`` and ``STOP_LOSS`` are one name, and
the nested ``{"strategy": {"order": {"action": ...}}}`` reads as ``strategyorderaction``.
Values (actions, order types, size units) are compared after :func:`normalise_word`.
"""

from __future__ import annotations

import re
from typing import Final

from algodesk.domain.orders import OrderType
from algodesk.domain.signals import AlertAction, SizeUnit

__all__ = [
    "ACTIONS",
    "ACTION_KEYS",
    "BOT_KEYS",
    "DIRECTED",
    "EXPIRY_KEYS",
    "NUMBERED_TP",
    "OFFSET_KEYS",
    "ORDER_TYPES",
    "ORDER_TYPE_KEYS",
    "PRICE_KEYS",
    "QUANTITY_KEYS",
    "REDUCE_ONLY_KEYS",
    "RIGHT_KEYS",
    "RISK_KEYS",
    "SENTIMENT_KEY",
    "SIGNAL_PRICE_KEYS",
    "SIZE_UNITS",
    "SL_PERCENT_KEYS",
    "SL_POINTS_KEYS",
    "SL_PRICE_KEYS",
    "SL_TYPE_KEYS",
    "SL_UNSUPPORTED_KEYS",
    "STOP_PRICE_KEY",
    "SYMBOL_KEYS",
    "TARGET_KEYS",
    "TIMENOW_KEYS",
    "TP_PERCENT_KEYS",
    "TP_POINTS_KEYS",
    "TP_PRICE_KEYS",
    "TP_UNSUPPORTED_KEYS",
    "TRAILING_KEYS",
    "TRAILING_PERCENT_KEYS",
    "TRAILING_POINTS_KEYS",
    "TRAILING_UNSUPPORTED_KEYS",
    "TRIGGER_KEYS",
    "TYPE_KEY",
    "UNDERLYING_KEY",
    "UNIT_KEYS",
    "UNSUPPORTED_SIZE_KEYS",
    "is_secret_name",
    "normalise_key",
    "normalise_word",
]

_KEY_NOISE = re.compile(r"[\s_.\-]+")
_WORD_NOISE = re.compile(r"[\s_\-]+")


def normalise_key(key: str) -> str:
    """``stopLoss`` / ``stop_loss`` / ``stop-loss`` / ``Stop.Loss`` → ``stoploss``."""
    return _KEY_NOISE.sub("", key.lower())


def normalise_word(word: str) -> str:
    """``ENTER_LONG`` / ``enter-long`` / ``EnterLong`` → ``enterlong``; ``%`` is kept."""
    return _WORD_NOISE.sub("", word.strip().lower())


# -- action -----------------------------------------------------------------------------------

ACTION_KEYS: Final = (
    "action",
    "side",
    "direction",
    "signal",
    "transactiontype",
    "orderaction",
    "strategyorderaction",
)
#: TradersPost: ``"sentiment": "flat"`` with buy or sell means an exit.
SENTIMENT_KEY: Final = "sentiment"
#: ``type`` is an action only when its value is an action word, an order type when it is one.
TYPE_KEY: Final = "type"


def _table(groups: dict[AlertAction, str]) -> dict[str, AlertAction]:
    return {word: action for action, words in groups.items() for word in words.split()}


ACTIONS: Final = _table(
    {
        AlertAction.BUY: "buy b long enterlong longentry openlong longopen bullish",
        AlertAction.SELL: "sell s short entershort shortentry openshort shortopen bearish",
        AlertAction.CLOSE: (
            "close exit flat exitlong exitshort closelong closeshort longexit shortexit"
        ),
        AlertAction.FLATTEN: "flatten closeall exitall",
        AlertAction.REVERSE: "reverse reverselongtoshort reverseshorttolong",
        AlertAction.CANCEL: "cancel cancelall",
    }
)

#: Actions named for one side of the position: the position each is for (exit_long closes a
#: long, never a short; reverse_long_to_short reverses a long).
DIRECTED: Final = {
    **dict.fromkeys(("exitlong", "closelong", "longexit", "reverselongtoshort"), "long"),
    **dict.fromkeys(("exitshort", "closeshort", "shortexit", "reverseshorttolong"), "short"),
}

# -- symbol -----------------------------------------------------------------------------------

SYMBOL_KEYS: Final = (
    "symbol",
    "ticker",
    "instrument",
    "pair",
    "tradingsymbol",
    "tvinstrument",
    "sy",
    "stockcode",
)
UNDERLYING_KEY: Final = "underlying"
EXPIRY_KEYS: Final = ("expiry", "expirydate")
OFFSET_KEYS: Final = ("offset",)
RIGHT_KEYS: Final = ("right", "optiontype")

# -- size -------------------------------------------------------------------------------------

QUANTITY_KEYS: Final = (
    "quantity",
    "qty",
    "contracts",
    "size",
    "amount",
    "volume",
    "ordersize",
    "strategyordercontracts",
)
RISK_KEYS: Final = ("risk", "riskpercent", "riskpct")
TARGET_KEYS: Final = ("positionsize", "targetposition", "strategypositionsize")
#: The unit of the quantity fields (TradersPost ``quantityType``, 3Commas ``currency_type``,
#: OKX ``investmentType``).
UNIT_KEYS: Final = (
    "quantitytype",
    "quantityunit",
    "sizing",
    "unit",
    "currencytype",
    "investmenttype",
)
#: Sizes we never convert: lots (a venue matter), money amounts, PineConnector volumes.
UNSUPPORTED_SIZE_KEYS: Final = (
    "lots",
    "vollots",
    "voldollar",
    "volpercent",
    "quoteqty",
    "quoteorderqty",
    "quoteamount",
    "notional",
    "dollaramount",
    "amountusd",
    "usdamount",
)
SIZE_UNITS: Final = {
    **dict.fromkeys(
        [
            "fixedquantity",
            "contract",
            "fixed",
            "units",
            "unit",
            "shares",
            "contracts",
            "quantity",
            "qty",
            "base",
        ],
        SizeUnit.UNITS,
    ),
    **dict.fromkeys(
        ["percentofequity", "%equity", "%ofequity", "equitypercent", "percent", "pct", "%"],
        SizeUnit.PERCENT_EQUITY,
    ),
    **dict.fromkeys(["risk", "riskpercent", "%risk"], SizeUnit.RISK_PERCENT),
    **dict.fromkeys(["target", "position", "targetposition"], SizeUnit.TARGET),
}

# -- order type and prices --------------------------------------------------------------------

ORDER_TYPE_KEYS: Final = ("ordertype", "pricetype")
ORDER_TYPES: Final = {
    **dict.fromkeys(("market", "mkt"), OrderType.MARKET),
    **dict.fromkeys(("limit", "lmt"), OrderType.LIMIT),
    **dict.fromkeys(("stop", "stopmarket", "stp", "slm"), OrderType.STOP),
    **dict.fromkeys(("stoplimit", "stoplmt", "stplmt"), OrderType.STOP_LIMIT),
}
#: The limit price of a LIMIT (or STOP_LIMIT), the trigger of a STOP; a MARKET order's
#: ``price`` is only a signal price.
PRICE_KEYS: Final = ("price", "limit", "limitprice", "orderprice", "entry", "entryprice")
#: The trigger of a STOP / STOP_LIMIT. On a MARKET or LIMIT order ``stop_price`` is OctoBot's
#: stop-loss (see :data:`STOP_PRICE_KEY`) and ``trigger_price`` 3Commas' signal price.
TRIGGER_KEYS: Final = ("stopprice", "triggerprice")
STOP_PRICE_KEY: Final = "stopprice"
#: Informational prices, first found wins (after ``price`` for a MARKET order).
SIGNAL_PRICE_KEYS: Final = ("signalprice", "strategyorderprice", "close")

# -- exits ------------------------------------------------------------------------------------

SL_PRICE_KEYS: Final = ("stoploss", "stoplossprice", "sl", "slprice", "stoplossstopprice")
SL_PERCENT_KEYS: Final = ("stoplosspercent", "stoplosspct", "slpercent", "slpct", "slp")
SL_POINTS_KEYS: Final = ("stoplosspoints", "slpoints", "stoplossamount")
SL_UNSUPPORTED_KEYS: Final = ("slpips", "stoplosspips", "sloffset", "stoplossoffset")
SL_TYPE_KEYS: Final = ("stoplosstype",)
TP_PRICE_KEYS: Final = ("takeprofit", "takeprofitprice", "tp", "tpprice", "takeprofitlimitprice")
TP_PERCENT_KEYS: Final = ("takeprofitpercent", "takeprofitpct", "tppercent", "tppct", "tpp")
TP_POINTS_KEYS: Final = ("takeprofitpoints", "tppoints", "takeprofitamount")
TP_UNSUPPORTED_KEYS: Final = ("tppips", "takeprofitpips", "tpoffset", "takeprofitoffset")
#: ``tp1``, ``tp_2``, ``TAKE_PROFIT_PRICE_1``...: several take-profits are not supported.
NUMBERED_TP: Final = re.compile(r"(?:tp|takeprofit)(?:price|percent|pct|points)?[0-9]+")
#: A bare number here is refused: say "1.5%" or use a ``_percent`` / ``_points`` name.
TRAILING_KEYS: Final = ("trailing", "trailingstop", "trail")
TRAILING_PERCENT_KEYS: Final = (
    "trailingpercent",
    "trailpercent",
    "trailingstoppercent",
    "stoplosstrailpercent",
)
TRAILING_POINTS_KEYS: Final = (
    "trailingpoints",
    "trailpoints",
    "trailingstoppoints",
    "trailamount",
    "stoplosstrailamount",
)
TRAILING_UNSUPPORTED_KEYS: Final = ("trailingpips", "trailpips")

# -- the rest ---------------------------------------------------------------------------------

BOT_KEYS: Final = ("bot", "bots")
#: The firing time. ``time`` is the bar's open time ({{time}}) and is not read.
TIMENOW_KEYS: Final = ("timenow", "timestamp")
REDUCE_ONLY_KEYS: Final = ("reduceonly",)

_SECRET_NAMES: Final = frozenset(
    [
        "secret",
        "key",
        "passphrase",
        "passphase",
        "token",
        "apikey",
        "apisecret",
        "secretkey",
        "privatekey",
        "authkey",
        "authid",
        "authtoken",
        "accesstoken",
        "signaltoken",
        "emailtoken",
        "password",
    ]
)
_SECRET_ENDINGS: Final = ("secret", "token", "password", "passphrase", "passphase", "apikey")


def is_secret_name(normalised_key: str) -> bool:
    """A field that carries a credential: never read as an instruction, always redacted."""
    return normalised_key in _SECRET_NAMES or normalised_key.endswith(_SECRET_ENDINGS)
