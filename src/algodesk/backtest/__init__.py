"""The backtester: strategies over bars through the live engine, its gates, the paper
exchange's matching and the ledger, on a simulated clock.

:class:`~algodesk.backtest.runner.Backtest` runs one; :mod:`~algodesk.backtest.sweep` runs a
grid; :mod:`~algodesk.backtest.lookahead` checks indicators for look-ahead;
:mod:`~algodesk.backtest.stats` and :mod:`~algodesk.backtest.report` summarise a result.
"""
