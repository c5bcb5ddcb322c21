"""Sweep-level progress of `tuner run`: trials done of the total, failures, skips, elapsed time and
ETA, shown as a tqdm bar on a terminal or as periodic one-line summaries in a log (cron, a pipe).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from tuner.trial import TrialRecord, TrialStatus

SUMMARY_INTERVAL_S = 30.0  # a log gets a line at least this often...
SUMMARY_FRACTION = 0.1  # ...and each time this share of the trials has finished
TICK_S = 1.0


def format_duration(seconds: float) -> str:
    """`45s`, `4m12s` or `2h05m`."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def trial_seconds(record: TrialRecord) -> float | None:
    """The worker time a trial took: its scoring, and its fit unless it re-scored an earlier
    run's (whose fit_seconds it carries); None when it logged none (a failure)."""
    metrics = record.metrics
    parts = ["eval_seconds"] if record.rescored_from is not None else \
        ["fit_seconds", "eval_seconds", "checkpoint_seconds"]
    found = [float(metrics[name]) for name in parts if name in metrics]
    return sum(found) if found else None


class TrialProgress:
    """Counts of a sweep's trials and when the next summary line is due.

    Skipped trials (finished by an earlier run) count as done but cost no time. The ETA is the
    work left over the rate the workers have done work so far. With `pending` (model -> its
    trials to run), the work left is each model's trials left times its mean trial time so far
    (a model not seen yet: the mean of all), so a grid whose first trials are LDA's seconds and
    last BERTopic's minutes is not given the seconds, over the pace of work so far (trials' and
    shared steps' worker seconds per second elapsed); without it, or before any trial said its
    time, the wall time per trial run so far times the trials left. A summary is due when
    `interval_s` has passed since the last one, when another `fraction` of the trials has
    finished, and at the end.
    """

    def __init__(self, total: int, skipped: int = 0, clock: Callable[[], float] = time.monotonic,
                 interval_s: float = SUMMARY_INTERVAL_S,
                 fraction: float = SUMMARY_FRACTION,
                 pending: Mapping[str, int] | None = None) -> None:
        self.total, self.skipped, self.failed, self.ran = total, skipped, 0, 0
        self.pruned = 0
        self.pending = dict(pending or {})
        self.ran_of: dict[str, int] = {}  # model -> its trials run
        self.timed: dict[str, tuple[int, float]] = {}  # model -> (trials timed, their seconds)
        self.shared_s = 0.0  # worker seconds of the shared steps done (UMAP, Word2Vec)
        self.clock, self.interval_s = clock, interval_s
        self.step = max(1, math.ceil(total * fraction))
        self.started = self.last_line_at = clock()
        self.ended: float | None = None
        self.done_at_last_line = skipped

    @property
    def done(self) -> int:
        return min(self.total, self.skipped + self.ran)

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def elapsed_s(self) -> float:
        """Wall time since the trials started, until the last one finished."""
        return (self.ended if self.ended is not None else self.clock()) - self.started

    def eta_s(self) -> float | None:
        """Seconds until every trial is done; None before the first trial has run."""
        if self.finished:
            return 0.0
        if self.ran == 0:
            return None
        work = sum(seconds for _, seconds in self.timed.values())
        if not self.pending or work <= 0:
            return self.elapsed_s() / self.ran * (self.total - self.done)
        return self._work_left() * self.elapsed_s() / (work + self.shared_s)

    def shared_done(self, seconds: float) -> None:
        """Count a shared step's worker seconds as work done in the time elapsed: the pace of
        work is what the workers did over the wall time, and a step is some of what they did."""
        self.shared_s += max(0.0, seconds)

    def _work_left(self) -> float:
        """Seconds of worker time the trials left will take, at each model's mean so far."""
        count = sum(n for n, _ in self.timed.values())
        overall = sum(seconds for _, seconds in self.timed.values()) / count
        left = 0.0
        for model, pending in self.pending.items():
            n, seconds = self.timed.get(model, (0, 0.0))
            left += max(0, pending - self.ran_of.get(model, 0)) * (seconds / n if n else overall)
        return left

    def record(self, status: TrialStatus, model: str | None = None,
               seconds: float | None = None) -> str | None:
        """Count one finished trial (of `model`, which took `seconds` of a worker's time); the
        summary line if one is due now."""
        self.ran += 1
        if model is not None:
            self.ran_of[model] = self.ran_of.get(model, 0) + 1
            if seconds is not None:
                n, total = self.timed.get(model, (0, 0.0))
                self.timed[model] = (n + 1, total + seconds)
        self.failed += status is TrialStatus.FAILED
        self.pruned += status is TrialStatus.PRUNED
        if self.finished and self.ended is None:
            self.ended = self.clock()
        due = self.finished or self.done - self.done_at_last_line >= self.step
        return self._line() if due or self._interval_passed() else None

    def tick(self) -> str | None:
        """The summary line if `interval_s` has passed without one (trials still running)."""
        return self._line() if self._interval_passed() and not self.finished else None

    def details(self) -> str:
        """`2 failed, 5 skipped · elapsed 4m12s · ETA 9m30s` (the parts after the count)."""
        eta = self.eta_s()
        counts = ", ".join(f"{n} {word}" for n, word in ((self.failed, "failed"),
                                                         (self.pruned, "pruned"),
                                                         (self.skipped, "skipped")) if n)
        timing = (f"elapsed {format_duration(self.elapsed_s())} · "
                  f"ETA {'?' if eta is None else format_duration(eta)}")
        return f"({counts}) · {timing}" if counts else timing

    def summary(self) -> str:
        """`[trials] 37/120 done (2 failed, 5 skipped) · elapsed 4m12s · ETA 9m30s`."""
        details = self.details()
        joiner = " " if details.startswith("(") else " · "
        return f"[trials] {self.done}/{self.total} done{joiner}{details}"

    def _interval_passed(self) -> bool:
        return self.clock() - self.last_line_at >= self.interval_s

    def _line(self) -> str:
        self.last_line_at, self.done_at_last_line = self.clock(), self.done
        return self.summary()


class ProgressDisplay:
    """Shows a TrialProgress on `stream` (the CLI's stdout): a tqdm bar that a ticker refreshes
    each second when `bar` is true, otherwise its summary lines; per-trial lines go above the bar.
    """

    def __init__(self, progress: TrialProgress, stream: TextIO, bar: bool) -> None:
        self.progress, self.stream = progress, stream
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.bar = _make_bar(progress, stream) if bar else None
        self.ticker = threading.Thread(target=self._tick_until_stopped, daemon=True)
        self.ticker.start()

    def trial_finished(self, status: TrialStatus, line: str, model: str | None = None,
                       seconds: float | None = None) -> None:
        """Show one trial's line and count it (see TrialProgress.record)."""
        with self.lock:
            if self.bar is None:
                self._write(line)
                self._write(self.progress.record(status, model, seconds))
                return
            self.bar.write(line, file=self.stream)
            self.progress.record(status, model, seconds)
            self._refresh_bar()

    def say(self, line: str, seconds: float | None = None) -> None:
        """Show a line that counts no trial (a shared step's start or end) above the bar; a
        step's worker `seconds` at its end count as work done (TrialProgress.shared_done)."""
        with self.lock:
            if seconds is not None:
                self.progress.shared_done(seconds)
            if self.bar is None:
                self._write(line)
            else:
                self.bar.write(line, file=self.stream)

    def close(self) -> None:
        self.stop.set()
        self.ticker.join()
        if self.bar is not None:
            self.bar.close()

    def _tick_until_stopped(self) -> None:
        while not self.stop.wait(TICK_S):
            with self.lock:
                if self.bar is not None:
                    self._refresh_bar()
                else:
                    self._write(self.progress.tick())

    def _refresh_bar(self) -> None:
        assert self.bar is not None
        self.bar.n = self.progress.done
        self.bar.set_description_str(self.progress.details(), refresh=False)
        self.bar.refresh()

    def _write(self, line: str | None) -> None:
        if line is not None:
            self.stream.write(line + "\n")
            self.stream.flush()


def _make_bar(progress: TrialProgress, stream: TextIO) -> Any:
    from tqdm import tqdm

    # The details go in `desc`: tqdm puts ", " before a postfix.
    return tqdm(total=progress.total, initial=progress.done, file=stream,
                desc=progress.details(), dynamic_ncols=True,
                bar_format="trials {n_fmt}/{total_fmt} |{bar}| {desc}")
