"""Sweep progress: counts, ETA and when a log gets its summary line, driven by a hand-set clock."""

from __future__ import annotations

import io

import pytest

from tuner.progress import ProgressDisplay, TrialProgress, format_duration
from tuner.trial import TrialStatus

OK, FAILED = TrialStatus.COMPLETE, TrialStatus.FAILED


class Clock:
    """A clock the test moves by hand: the throttle rule is the unit under test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.mark.parametrize(("seconds", "text"), [(4.4, "4s"), (59.6, "1m00s"), (252, "4m12s"),
                                               (7500, "2h05m")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_summary_counts_failures_skips_elapsed_and_eta(clock: Clock) -> None:
    progress = TrialProgress(120, skipped=5, clock=clock)
    for status in [FAILED, FAILED] + [OK] * 30:
        clock.now += 252 / 32
        progress.record(status)
    # 32 trials ran in 252 s; 83 are left: 252 / 32 * 83 = 653.6 s
    assert progress.summary() == ("[trials] 37/120 done (2 failed, 5 skipped) · elapsed 4m12s · "
                                  "ETA 10m54s")


def test_the_eta_weighs_the_trials_left_by_their_models_time(clock: Clock) -> None:
    """A grid of LDA's seconds then BERTopic's minutes: by the wall time per trial alone, the
    ETA after one BERTopic trial said 8 s for three more of 10 s each."""
    progress = TrialProgress(8, clock=clock, pending={"LDA": 4, "BERTopic": 4})
    for _ in range(4):
        clock.now += 1
        progress.record(OK, "LDA", 1.0)
    assert progress.eta_s() == pytest.approx(4.0)  # BERTopic unseen: the mean of all, 1 s
    clock.now += 10
    progress.record(OK, "BERTopic", 10.0)
    assert progress.eta_s() == pytest.approx(30.0)  # 3 x 10 s at one worker's rate


def test_two_workers_halve_the_work_left(clock: Clock) -> None:
    progress = TrialProgress(6, clock=clock, pending={"LDA": 6})
    for _ in range(2):  # two trials of 10 s each, side by side
        clock.now += 5
        progress.record(OK, "LDA", 10.0)
    # 20 s of work done in 10 s of wall time; 4 trials x 10 s left at that rate
    assert progress.eta_s() == pytest.approx(20.0)


def test_a_shared_steps_seconds_count_as_work_done(clock: Clock) -> None:
    """162 s of Word2Vec, then a first trial of 10 s: counting the trial's 10 s alone as the
    work of 172 s put 7 more trials at 20 minutes (new-user audit of 2026-12-05)."""
    progress = TrialProgress(8, clock=clock, pending={"ETM": 8})
    display = ProgressDisplay(progress, io.StringIO(), bar=False)
    clock.now += 162
    display.say("shared step word2vec of ETM done in 2m42s", 162.0)
    clock.now += 10
    progress.record(OK, "ETM", 10.0)
    # 172 s of work in 172 s: one worker's pace, 7 trials x 10 s left
    assert progress.eta_s() == pytest.approx(70.0)
    display.say("shared step umap of BERTopic started")  # a start counts nothing
    assert progress.eta_s() == pytest.approx(70.0)


def test_skipped_trials_are_not_in_the_work_left(clock: Clock) -> None:
    progress = TrialProgress(4, skipped=2, clock=clock, pending={"LDA": 2})
    clock.now += 3
    progress.record(OK, "LDA", 3.0)
    assert progress.eta_s() == pytest.approx(3.0)


def test_eta_is_unknown_before_the_first_trial_and_zero_at_the_end(clock: Clock) -> None:
    progress = TrialProgress(2, clock=clock)
    assert progress.summary() == "[trials] 0/2 done · elapsed 0s · ETA ?"
    clock.now += 10
    progress.record(OK)
    progress.record(OK)
    assert progress.eta_s() == 0.0


def test_elapsed_stops_with_the_last_trial(clock: Clock) -> None:
    progress = TrialProgress(1, clock=clock)
    clock.now += 10
    progress.record(OK)
    clock.now += 50  # ranking and closing the sweep
    assert progress.summary().endswith("elapsed 10s · ETA 0s")


def test_skipped_trials_do_not_shorten_the_eta(clock: Clock) -> None:
    progress = TrialProgress(20, skipped=10, clock=clock)
    clock.now += 60
    progress.record(OK)  # one trial ran in 60 s; 9 are left
    assert progress.eta_s() == pytest.approx(540)


def test_a_line_every_tenth_of_the_trials(clock: Clock) -> None:
    progress = TrialProgress(100, clock=clock)
    lines = []
    for _ in range(25):
        clock.now += 1
        lines.append(progress.record(OK))
    assert [i + 1 for i, line in enumerate(lines) if line] == [10, 20]


def test_a_line_at_least_every_interval_while_trials_run(clock: Clock) -> None:
    progress = TrialProgress(100, clock=clock, interval_s=30)
    clock.now += 29
    assert progress.tick() is None
    clock.now += 1
    assert progress.tick() == "[trials] 0/100 done · elapsed 30s · ETA ?"
    clock.now += 20
    assert progress.tick() is None  # the interval restarts with each line


def test_a_trial_finishing_after_the_interval_prints(clock: Clock) -> None:
    progress = TrialProgress(100, clock=clock, interval_s=30)
    clock.now += 31
    assert progress.record(OK) is not None


def test_the_last_trial_always_prints(clock: Clock) -> None:
    progress = TrialProgress(25, skipped=24, clock=clock)
    assert progress.record(FAILED) == ("[trials] 25/25 done (1 failed, 24 skipped) · elapsed 0s · "
                                       "ETA 0s")
    assert progress.tick() is None


def test_log_display_writes_trial_lines_and_summaries(clock: Clock) -> None:
    stream = io.StringIO()
    display = ProgressDisplay(TrialProgress(2, clock=clock), stream, bar=False)
    display.trial_finished(OK, "  COMPLETE lda-1")
    display.trial_finished(FAILED, "  FAILED   lda-2")
    display.close()
    assert stream.getvalue().splitlines() == [
        "  COMPLETE lda-1", "[trials] 1/2 done · elapsed 0s · ETA 0s",
        "  FAILED   lda-2", "[trials] 2/2 done (1 failed) · elapsed 0s · ETA 0s"]


def test_bar_display_shows_count_and_eta(clock: Clock) -> None:
    stream = io.StringIO()
    display = ProgressDisplay(TrialProgress(4, clock=clock), stream, bar=True)
    clock.now += 10
    display.trial_finished(OK, "  COMPLETE lda-1")
    display.close()
    shown = stream.getvalue()
    assert "  COMPLETE lda-1\n" in shown
    assert "trials 1/4" in shown and "elapsed 10s · ETA 30s" in shown


def test_a_trial_takes_its_fit_and_scoring_and_a_re_scored_one_its_scoring_alone() -> None:
    """A re-scored trial carries the fit_seconds of the run whose fit it scored again."""
    from tuner.progress import trial_seconds
    from tuner.trial import DataRef, MetricSettings, TrialRecord, TrialSpec

    spec = TrialSpec("LDA", {}, 1, DataRef("c", "s", "en", "b", None, None, None, None),
                     MetricSettings(), "e", "k")
    timed = {"fit_seconds": 12.0, "eval_seconds": 0.5}
    assert trial_seconds(TrialRecord(spec, OK, timed)) == 12.5
    assert trial_seconds(TrialRecord(spec, OK, timed, rescored_from="run")) == 0.5
    assert trial_seconds(TrialRecord(spec, FAILED, {})) is None
