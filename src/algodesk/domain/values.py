"""Money, prices and quantities: the one module through which every number in algodesk is made.

Every value is a frozen wrapper around :class:`decimal.Decimal`. A ``float`` is refused with a
``TypeError`` wherever a value is built or combined, because a float cannot say 0.1 exactly.
Arithmetic between different currencies raises :class:`CurrencyMismatchError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    getcontext,
    localcontext,
    setcontext,
)
from types import TracebackType
from typing import ClassVar, Final, ParamSpec, TypeVar

__all__ = [
    "EXACT_CONTEXT",
    "ZERO",
    "Currency",
    "CurrencyMismatchError",
    "DecimalLike",
    "InexactArithmeticError",
    "Money",
    "Price",
    "Quantity",
    "canonical_decimal",
    "canonical_utc",
    "exact",
    "exact_arithmetic",
    "money",
    "price",
    "quantity",
    "round_to_increment",
    "rounded",
    "to_decimal",
]

ZERO: Final = Decimal(0)

#: The arithmetic context of money: 100 significant digits, and any rounding raises instead of
#: happening silently (Python's default context rounds to 28 digits without a word).
EXACT_CONTEXT: Final = Context(
    prec=100, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow]
)


class InexactArithmeticError(ArithmeticError):
    """A money calculation would have had to round."""


P = ParamSpec("P")
R = TypeVar("R")
_INEXACT = "a money calculation needs more than 100 significant digits and would round"

# The contexts that blocks switch to. Each is installed as it is (``localcontext`` would copy it
# on every entry, which costs more than most of the arithmetic it guards) and is never changed:
# no code changes the current context in place (``localcontext()`` copies before a change), and
# nothing reads the sticky flags that arithmetic sets, so one object serves every block, nested
# ones and other threads included. Only the copies are installed: the public templates stay
# clean.
_EXACT: Final = EXACT_CONTEXT.copy()

#: For figures that are ratios (average prices): 34 significant digits, rounded half-even.
_ROUNDED = Context(prec=34, rounding=ROUND_HALF_EVEN)


def exact_arithmetic(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``fn`` to run its Decimal arithmetic in :data:`EXACT_CONTEXT`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        saved = getcontext()
        if saved is _EXACT:  # called from exact arithmetic: nothing to switch
            try:
                return fn(*args, **kwargs)
            except Inexact:
                raise InexactArithmeticError(_INEXACT) from None
        setcontext(_EXACT)
        try:
            return fn(*args, **kwargs)
        except Inexact:
            raise InexactArithmeticError(_INEXACT) from None
        finally:
            setcontext(saved)

    return wrapper


class _Block(AbstractContextManager[None]):
    """Run a block in the class's ``context``; with ``exact``, a rounding raises
    :class:`InexactArithmeticError`."""

    __slots__ = ("_saved",)
    context: ClassVar[Context]
    exact: ClassVar[bool]

    def __enter__(self) -> None:
        self._saved = saved = getcontext()
        if saved is not self.context:
            setcontext(self.context)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is not self.context:
            setcontext(self._saved)
        if self.exact and exc_type is not None and issubclass(exc_type, Inexact):
            raise InexactArithmeticError(_INEXACT) from None


class _ExactBlock(_Block):
    __slots__ = ()
    context = _EXACT
    exact = True


class _RoundedBlock(_Block):
    __slots__ = ()
    context = _ROUNDED
    exact = False


def exact() -> AbstractContextManager[None]:
    """Run the block's Decimal arithmetic in :data:`EXACT_CONTEXT`."""
    return _ExactBlock()


DecimalLike = Decimal | int | str


class CurrencyMismatchError(ValueError):
    """Two amounts in different currencies were combined."""


def rounded() -> AbstractContextManager[None]:
    """A context for ratios such as average prices, which cannot be exact (34 digits)."""
    return _RoundedBlock()


def to_decimal(value: object) -> Decimal:
    """Convert ``value`` to a finite Decimal, exactly.

    Accepts ``Decimal``, ``int`` and decimal strings. Refuses ``float`` (and ``bool``) with a
    ``TypeError``: a float has already lost the exact value the user typed.
    """
    if isinstance(value, bool):
        raise TypeError(f"expected Decimal, int or str, was bool ({value!r})")
    if isinstance(value, float):
        raise TypeError(
            f"expected Decimal, int or str, was float ({value!r}): floats cannot hold money "
            "exactly; pass a string such as '0.1' or a Decimal"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a decimal number, was {value!r}") from None
    else:
        raise TypeError(f"expected Decimal, int or str, was {type(value).__name__} ({value!r})")
    if not result.is_finite():
        raise ValueError(f"expected a finite number, was {value!r}")
    return result


def canonical_decimal(value: Decimal) -> str:
    """The one text form of a number: no exponent, no trailing zeros, no negative zero.

    ``Decimal('1.50')``, ``Decimal('1.5')`` and ``Decimal('15E-1')`` all give ``'1.5'``.
    """
    if value.is_zero():
        return "0"
    text = format(value, "f")  # exact: 'f' without a precision never rounds
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def canonical_utc(value: datetime) -> str:
    """The one text form of an instant: ``%Y-%m-%dT%H:%M:%S.%fZ`` in UTC, written out
    (``strftime`` costs more than the rest of a ledger entry's encoding), the year unpadded as
    glibc's ``%Y``. ``value`` must be timezone-aware."""
    u = value.astimezone(UTC)
    return (
        f"{u.year}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


def round_to_increment(
    value: Decimal, increment: Decimal, rounding: str = ROUND_HALF_EVEN
) -> Decimal:
    """Round ``value`` to a whole multiple of ``increment`` (a tick size, a lot, a step)."""
    if increment <= 0:
        raise ValueError(f"expected a positive increment, was {increment}")
    with exact():
        try:
            units = (value / increment).to_integral_value(rounding=rounding)
        except Inexact:  # the quotient has more digits than the context: round it first
            with localcontext(EXACT_CONTEXT) as ctx:
                ctx.traps[Inexact] = False
                units = (value / increment).to_integral_value(rounding=rounding)
        return units * increment


def _is_multiple(value: Decimal, increment: Decimal) -> bool:
    with exact():
        return (value % increment).is_zero()


_CURRENCY_CODE = re.compile(r"^[A-Z0-9]{2,12}$")


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 code (``INR``, ``USD``) or a crypto asset code (``USDT``, ``BTC``)."""

    code: str

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CURRENCY_CODE.match(self.code):
            raise ValueError(
                f"expected a currency code of 2-12 upper-case letters or digits, was {self.code!r}"
            )

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:  # the dataclass's text, without its recursion guard
        return f"{self.__class__.__qualname__}(code={self.code!r})"


def _require_decimal(kind: str, value: object) -> Decimal:
    if type(value) is Decimal and value.is_finite():
        return value
    if isinstance(value, float):
        raise TypeError(f"{kind}: expected Decimal, was float ({value!r}); use algodesk values")
    if not isinstance(value, Decimal):
        raise TypeError(f"{kind}: expected Decimal, was {type(value).__name__} ({value!r})")
    if not value.is_finite():
        raise ValueError(f"{kind}: expected a finite number, was {value}")
    return value


def _factor(value: object) -> Decimal:
    """A scalar for multiplication: Decimal or int, never float."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"expected a Decimal or int factor, was {type(value).__name__} ({value!r})")
    return Decimal(value) if isinstance(value, int) else value


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        _require_decimal("Money.amount", self.amount)
        if not isinstance(self.currency, Currency):
            raise TypeError(f"Money.currency: expected Currency, was {self.currency!r}")

    def _same(self, other: object, op: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {op} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {op} {self.currency} and {other.currency}: convert first"
            )
        return other

    def __add__(self, other: Money) -> Money:
        with exact():
            return Money(self.amount + self._same(other, "add").amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        with exact():
            return Money(self.amount - self._same(other, "subtract").amount, self.currency)

    def __neg__(self) -> Money:
        return Money(self.amount.copy_negate(), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        with exact():
            return Money(self.amount * _factor(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other, "compare").amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other, "compare").amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other, "compare").amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other, "compare").amount

    def is_zero(self) -> bool:
        return self.amount.is_zero()

    def __str__(self) -> str:
        return f"{canonical_decimal(self.amount)} {self.currency}"

    def __repr__(self) -> str:  # the dataclass's text, without its recursion guard
        return f"{self.__class__.__qualname__}(amount={self.amount!r}, currency={self.currency!r})"


@dataclass(frozen=True, slots=True, order=True)
class Price:
    """A price per unit of an instrument (may be negative only where an instrument allows)."""

    value: Decimal

    def __post_init__(self) -> None:
        _require_decimal("Price", self.value)

    def is_multiple_of(self, tick: Decimal) -> bool:
        return _is_multiple(self.value, tick)

    def round_to_tick(self, tick: Decimal, rounding: str = ROUND_HALF_EVEN) -> Price:
        return Price(round_to_increment(self.value, tick, rounding))

    def __str__(self) -> str:
        return canonical_decimal(self.value)

    def __repr__(self) -> str:  # the dataclass's text, without its recursion guard
        return f"{self.__class__.__qualname__}(value={self.value!r})"


@dataclass(frozen=True, slots=True, order=True)
class Quantity:
    """An unsigned quantity of an instrument (units, contracts or coins)."""

    value: Decimal

    def __post_init__(self) -> None:
        _require_decimal("Quantity", self.value)
        if self.value < 0:
            raise ValueError(f"Quantity: expected a value >= 0, was {self.value}")

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            raise TypeError(f"cannot add Quantity and {type(other).__name__}")
        with exact():
            return Quantity(self.value + other.value)

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            raise TypeError(f"cannot subtract {type(other).__name__} from Quantity")
        with exact():
            return Quantity(self.value - other.value)

    def is_zero(self) -> bool:
        return self.value.is_zero()

    def is_multiple_of(self, step: Decimal) -> bool:
        return _is_multiple(self.value, step)

    def round_to_step(self, step: Decimal, rounding: str = ROUND_DOWN) -> Quantity:
        """Round to a lot or step; down by default, so a quantity never grows by rounding."""
        return Quantity(round_to_increment(self.value, step, rounding))

    def __str__(self) -> str:
        return canonical_decimal(self.value)

    def __repr__(self) -> str:  # the dataclass's text, without its recursion guard
        return f"{self.__class__.__qualname__}(value={self.value!r})"


def money(amount: object, currency: str | Currency) -> Money:
    """Build :class:`Money` from a Decimal, int or string amount; floats raise ``TypeError``."""
    cur = currency if isinstance(currency, Currency) else Currency(currency)
    return Money(to_decimal(amount), cur)


def price(value: object) -> Price:
    """Build a :class:`Price`; floats raise ``TypeError``."""
    return Price(to_decimal(value))


def quantity(value: object) -> Quantity:
    """Build a :class:`Quantity`; floats raise ``TypeError``; negatives raise ``ValueError``."""
    return Quantity(to_decimal(value))
