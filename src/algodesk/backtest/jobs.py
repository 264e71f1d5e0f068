"""Backtests started from the desk: a queue of jobs, each run by ``algodesk backtest`` in its
own process, so a long run never competes with the engine for the desk's interpreter.

A job lives in ``<root>/<id>/``: ``job.json`` (what was asked and where it stands, rewritten
atomically at each change), ``bars.csv`` (the chosen series, exported from the bar store),
``progress.json`` (written by the run, see :class:`ProgressFile`), ``result.json``,
``report.html`` and ``stderr.txt``. One job runs at a time; the others wait in order. On start
the jobs on disk are listed again; one that was queued or running when the desk stopped is
failed as interrupted.

Inputs are checked when a job is asked for (:class:`JobInputError`), never by a failed run:
a built-in strategy, parameters its ``Params`` accept, a stored series, cash > 0.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.ports.market_data import BarSeries, BarStore

__all__ = [
    "BacktestJobs",
    "Job",
    "JobInputError",
    "ProgressFile",
    "read_progress",
    "series_id",
]

_log = logging.getLogger("algodesk.backtest.jobs")

Status = Literal["queued", "running", "done", "failed"]
_ID = re.compile(r"^[0-9a-f]{12}$")
_CLI_SYMBOL = re.compile(r"[^A-Za-z0-9/&^-]")
_ERROR_CHARS = 2000
_INTERRUPTED = "interrupted: the desk stopped while this backtest was {}"


#: Backtests queued or running at once; more are refused until some finish.
MAX_WAITING = 20
#: The environment a backtest's process gets (besides LC_*).
_CHILD_ENV = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV"})


class JobInputError(ValueError):
    """A job that cannot be run as asked; the message says what was expected."""


class QueueFullError(RuntimeError):
    """Too many backtests are queued or running; try again when some have finished."""


# -- progress ----------------------------------------------------------------------------------


def _write_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` atomically: a temporary file renamed over it."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class ProgressFile:
    """A run's progress callback that writes ``{"done": n, "total": N}`` to ``path``,
    atomically, at most once per ``interval`` seconds; the first and the last update
    (``done == total``) are always written. A write that fails is skipped: progress is
    advice, not worth a run."""

    def __init__(
        self, path: Path, interval: float = 0.2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if done < total and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        try:
            _write_json(self.path, {"done": done, "total": total})
        except OSError as exc:
            _log.debug("progress not written to %s: %s", self.path, exc)


def read_progress(path: Path) -> tuple[int, int] | None:
    """``(done, total)`` from a progress file, or None when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        done, total = value["done"], value["total"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(done, int) and isinstance(total, int):
        return done, total
    return None


# -- jobs --------------------------------------------------------------------------------------


def series_id(series: BarSeries) -> str:
    """``<instrument>|<timeframe>``: how the API names a stored series."""
    return f"{series.instrument_id}|{series.timeframe}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


@dataclass(slots=True)
class Job:
    id: str
    strategy: str
    series: str
    params: dict[str, str]
    cash: str
    created_at: datetime
    status: Status = "queued"
    progress: tuple[int, int] = (0, 0)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    stats: dict[str, Any] | None = None
    has_report: bool = False
    seq: int = field(default=0, compare=False)

    def record(self) -> dict[str, Any]:
        """What ``job.json`` keeps (the rest is read from the run's own files)."""
        return {
            "id": self.id,
            "strategy": self.strategy,
            "series": self.series,
            "params": self.params,
            "cash": self.cash,
            "status": self.status,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
        }

    def to_json(self) -> dict[str, Any]:
        done, total = self.progress
        return {
            **self.record(),
            "progress": {"done": done, "total": total},
            "stats": self.stats,
            "has_report": self.has_report,
        }


def _cli_symbol(iid: InstrumentId) -> str:
    """The instrument's symbol as ``--data SYMBOL=FILE`` accepts it."""
    text = _CLI_SYMBOL.sub("-", iid.symbol)[:31]
    return text if text[:1].isalnum() else f"S{text[:30]}"


def _error_of(stderr: str, returncode: int) -> str:
    """The run's own error message: from its last ``error:`` line on, or its last lines
    (a traceback's end), at most ~2,000 characters."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    marks = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    start = marks[-1] if marks else max(len(lines) - 20, 0)
    text = "\n".join(lines[start:]).removeprefix("error: ")
    if not text:
        if returncode < 0:
            return f"the backtest process was killed by signal {-returncode}"
        return f"the backtest process exited with code {returncode} and said nothing"
    return text if len(text) <= _ERROR_CHARS else "…" + text[-_ERROR_CHARS:]


class BacktestJobs:
    """The desk's backtest jobs under ``root``, over the bars of ``bars``.

    ``command``: the program and first arguments that run ``algodesk`` (default: this
    interpreter). ``now``: the clock the jobs are stamped with.
    """

    def __init__(
        self,
        root: Path,
        bars: BarStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        command: list[str] | None = None,
    ) -> None:
        self.root = root
        self.bars = bars
        self._now = now
        self._command = command or [
            sys.executable,
            "-P",  # not the job's folder on sys.path
            "-c",
            "from algodesk.entrypoints.cli.app import main; main()",
        ]
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        self._seq = 0
        self._load()

    # -- what can be run -----------------------------------------------------------------------

    @staticmethod
    def strategies() -> list[dict[str, Any]]:
        """The built-in strategies and their parameters' defaults, as text."""
        # The strategies (and pandas, about 100 MB) are imported when first asked for, not
        # with the desk: a desk that runs no backtest never carries them.
        from algodesk.strategies import BUILTINS, load_strategy  # noqa: PLC0415
        from algodesk.strategies.base import params_of  # noqa: PLC0415

        out = []
        for name in BUILTINS:
            cls, implied = load_strategy(name)
            defaults = {k: _text(d) for k, (_, d) in params_of(cls.Params).items()}
            out.append({"name": name, "params": {**defaults, **implied}})
        return out

    def series(self) -> list[dict[str, Any]]:
        """Every stored series of bars."""
        return [
            {
                "id": series_id(s),
                "instrument": str(s.instrument_id),
                "timeframe": str(s.timeframe),
                "bars": s.count,
                "first": _iso(s.first),
                "last": _iso(s.last),
            }
            for s in sorted(
                self.bars.series(), key=lambda s: (str(s.instrument_id), s.timeframe.seconds)
            )
        ]

    def _find_series(self, text: str) -> BarSeries:
        stored = self.bars.series()
        found = next((s for s in stored if series_id(s) == text), None)
        if found is None:
            known = ", ".join(series_id(s) for s in stored) or "none; import bars first"
            raise JobInputError(
                f"unknown series {text!r}; expected <instrument>|<timeframe> of a stored "
                f"series: {known}"
            )
        return found

    # -- asking --------------------------------------------------------------------------------

    def submit(
        self, strategy: str, series: str, params: Mapping[str, str], cash: str
    ) -> dict[str, Any]:
        """Check the inputs (:class:`JobInputError`) and queue a job; returns its JSON."""
        from algodesk.strategies import BUILTINS, build_strategy  # noqa: PLC0415 - as above
        from algodesk.strategies.base import ParamError  # noqa: PLC0415

        if strategy not in BUILTINS:
            raise JobInputError(
                f"unknown strategy {strategy!r}; expected one of {', '.join(BUILTINS)}"
            )
        given = {k.strip(): v.strip() for k, v in params.items()}
        if any(not k or "=" in k for k in given):
            raise JobInputError(f"params: expected parameter names, was {sorted(given)}")
        try:
            build_strategy(strategy, given)
        except ParamError as exc:
            raise JobInputError(f"{strategy}: {exc}") from None
        self._find_series(series)
        try:
            amount = Decimal(cash.strip())
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount <= 0:
            raise JobInputError(f"cash: expected a decimal amount > 0, was {cash!r}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the backtest queue is closed")
            waiting = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if waiting >= MAX_WAITING:
                raise QueueFullError(
                    f"{waiting} backtests are queued or running; wait for some to finish "
                    f"(at most {MAX_WAITING})"
                )
            job_id = secrets.token_hex(6)
            while job_id in self._jobs:  # pragma: no cover  (one in 2**48)
                job_id = secrets.token_hex(6)
            self._seq += 1
            job = Job(job_id, strategy, series, given, cash.strip(), self._now(), seq=self._seq)
            (self.root / job_id).mkdir(parents=True)
            self._save(job)
            self._jobs[job_id] = job
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="algodesk-backtests", daemon=True
                )
                self._worker.start()
            self._queue.put(job_id)
            return job.to_json()

    def jobs(self) -> list[dict[str, Any]]:
        """Every job, newest first."""
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: (j.created_at, j.seq), reverse=True)
            for job in jobs:
                self._refresh(job)
            return [j.to_json() for j in jobs]

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id) if _ID.match(job_id) else None
            if job is None:
                return None
            self._refresh(job)
            return job.to_json()

    def report(self, job_id: str) -> Path | None:
        """The job's HTML report, if it has one."""
        with self._lock:
            job = self._jobs.get(job_id) if _ID.match(job_id) else None
            if job is None or not job.has_report:
                return None
        path = self.root / job_id / "report.html"
        return path if path.is_file() else None

    def close(self, timeout: float = 5.0) -> None:
        """Stop: the running backtest is ended, it and the queued ones are failed as
        interrupted."""
        with self._lock:
            self._closed = True
            proc = self._proc
        self._queue.put(None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
        if self._worker is not None:
            self._worker.join(timeout)
        with self._lock:
            for job in self._jobs.values():
                if job.status in ("queued", "running"):
                    self._finish(job, error=_INTERRUPTED.format(job.status))

    # -- state -------------------------------------------------------------------------------

    def _save(self, job: Job) -> None:
        try:
            _write_json(self.root / job.id / "job.json", job.record())
        except OSError:
            _log.exception("backtest %s: cannot write its job.json", job.id)

    def _refresh(self, job: Job) -> None:
        if job.status == "running":
            job.progress = read_progress(self.root / job.id / "progress.json") or job.progress

    def _finish(self, job: Job, *, error: str | None = None) -> None:
        folder = self.root / job.id
        job.finished_at = self._now()
        job.progress = read_progress(folder / "progress.json") or job.progress
        if error is None:
            try:
                result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
                job.stats = dict(result["stats"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                error = f"the backtest finished without a readable result.json: {exc}"
        job.status = "failed" if error is not None else "done"
        job.error = error
        job.has_report = error is None and (folder / "report.html").is_file()
        self._save(job)

    def _load(self) -> None:
        """The jobs on disk: finished ones as they were, unfinished ones interrupted."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*/job.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                job = Job(
                    id=record["id"],
                    strategy=record["strategy"],
                    series=record["series"],
                    params={str(k): str(v) for k, v in record["params"].items()},
                    cash=record["cash"],
                    created_at=datetime.fromisoformat(record["created_at"]),
                    status=record["status"],
                    started_at=_moment(record.get("started_at")),
                    finished_at=_moment(record.get("finished_at")),
                    error=record.get("error"),
                )
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                _log.warning("not a backtest job, skipped: %s (%s)", path, exc)
                continue
            if job.id != path.parent.name or not _ID.match(job.id):
                _log.warning("not a backtest job, skipped: %s (its id is %r)", path, job.id)
                continue
            folder = path.parent
            if job.status in ("queued", "running"):
                self._finish(job, error=_INTERRUPTED.format(job.status))
            elif job.status == "done":
                job.progress = read_progress(folder / "progress.json") or (0, 0)
                try:
                    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
                    job.stats = dict(result["stats"])
                    job.has_report = (folder / "report.html").is_file()
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    job.status, job.error = "failed", f"its result.json is unreadable: {exc}"
            else:
                job.status = "failed"
                job.progress = read_progress(folder / "progress.json") or (0, 0)
            self._jobs[job.id] = job

    # -- running -----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                job = self._jobs[job_id]
                if self._closed or job.status != "queued":
                    continue
                job.status, job.started_at = "running", self._now()
                self._save(job)
            try:
                error = self._run(job)
            except Exception as exc:
                _log.exception("backtest %s failed to run", job.id)
                error = f"the backtest could not be run: {exc}"
            with self._lock:
                self._proc = None
                if job.status == "running":
                    if self._closed and error is not None:
                        error = _INTERRUPTED.format("running")
                    self._finish(job, error=error)

    def _export(self, job: Job, path: Path) -> tuple[InstrumentId, Timeframe]:
        instrument, _, frame = job.series.partition("|")
        iid, timeframe = InstrumentId(instrument), Timeframe.parse(frame)
        bars = self.bars.read(iid, timeframe)
        if not bars:
            raise JobInputError(f"the series {job.series} has no bars any more")
        daily = str(timeframe) == "1d"
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(["Date", "Open", "High", "Low", "Close", "Volume"])
            for bar in bars:
                start = bar.ts_close - timeframe.delta
                stamp = start.date().isoformat() if daily else start.isoformat()
                out.writerow([stamp, bar.open, bar.high, bar.low, bar.close, bar.volume])
        return iid, timeframe

    def _run(self, job: Job) -> str | None:
        """Run one job's backtest; its error message, or None when it succeeded."""
        folder = self.root / job.id
        data = folder / "bars.csv"
        try:
            iid, timeframe = self._export(job, data)
        except (OSError, ValueError) as exc:
            return f"cannot export the series {job.series}: {exc}"
        args = [
            *self._command,
            "backtest",
            job.strategy,
            f"--data={_cli_symbol(iid)}={data}",
            *(f"--param={k}={v}" for k, v in job.params.items()),
            f"--cash={job.cash}",
            f"--timeframe={timeframe}",
            f"--json={folder / 'result.json'}",
            f"--report={folder / 'report.html'}",
            f"--progress-file={folder / 'progress.json'}",
        ]
        # The run needs none of the desk's settings and must see none of its secrets (nor a
        # broker's or the database's): only what Python needs to start.
        env = {k: v for k, v in os.environ.items() if k in _CHILD_ENV or k.startswith("LC_")}
        env["NO_COLOR"] = "1"
        with (folder / "stderr.txt").open("wb") as stderr:
            with self._lock:
                if self._closed:
                    return _INTERRUPTED.format("queued")
                proc = subprocess.Popen(  # noqa: S603  (our CLI; arguments checked, no shell)
                    args,
                    cwd=folder,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
                self._proc = proc
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, proc.pid, 10)  # behind the engine
            returncode = proc.wait()
        if returncode == 0:
            return None
        text = (folder / "stderr.txt").read_text(encoding="utf-8", errors="replace")
        return _error_of(text, returncode)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
