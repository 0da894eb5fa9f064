"""The CLI's live view of a search: a progress bar and a line per trial."""

from __future__ import annotations

import time
from typing import IO

import keras_tuner as kt

from auxsearch.core import names
from auxsearch.core.messages import one_line
from auxsearch.core.tapspace import active_taps, format_taps
from auxsearch.results.rows import trial_epochs

_FINISHED = ("COMPLETED", "FAILED", "INVALID")


class SearchProgress:
    """Prints one line per finished trial and a bar over the whole search.

    The estimate of the time left assumes the remaining epochs cost what the
    epochs trained in this process since its first trial did (the first
    trial also pays for tracing the model, once per search). On a terminal the bar is
    redrawn in place under the trial lines; elsewhere (a log file) each trial
    line carries the same figures instead.

    Args:
        total_trials: Integer, the trials the Hyperband settings imply.
        total_epochs: Integer, the epochs they imply.
        stream: A text stream, usually `sys.stderr`.
    """

    def __init__(self, total_trials: int, total_epochs: int, stream: IO[str]) -> None:
        self.total_trials = total_trials
        self.total_epochs = total_epochs
        self.stream = stream
        self.live = stream.isatty()
        self.started = time.monotonic()
        self.epochs_here = 0
        self._first: tuple[float, int] | None = None  # time and epochs then

    def __call__(self, trial: kt.engine.trial.Trial, oracle: kt.Oracle) -> None:
        """Reports a finished trial (a `tuner.Hyperband` `on_trial_end` hook)."""
        epochs = trial_epochs(trial.hyperparameters.values)
        self.epochs_here += epochs
        finished = [t for t in oracle.trials.values() if t.status in _FINISHED]
        epochs_done = sum(trial_epochs(t.hyperparameters.values) for t in finished)
        if self._first is None:
            self._first = (time.monotonic(), self.epochs_here)
        status = self._status(len(finished), epochs_done)
        line = describe_trial(trial, oracle.objective.name, epochs)
        if self.live:
            self.stream.write(f"\r\033[K{line}\n{self._bar(len(finished))} {status}")
        else:
            self.stream.write(f"[{status}] {line}\n")
        self.stream.flush()

    def start(self) -> None:
        """Draws the empty bar (on a terminal)."""
        if self.live:
            self.stream.write(f"{self._bar(0)} {self._status(0, 0)}")
            self.stream.flush()

    def close(self) -> None:
        """Ends the bar's line."""
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

    def _bar(self, trials_done: int) -> str:
        total = max(self.total_trials, trials_done, 1)
        filled = round(20 * trials_done / total)
        return f"[{'#' * filled}{'.' * (20 - filled)}]"

    def _status(self, trials_done: int, epochs_done: int) -> str:
        now = time.monotonic()
        elapsed = now - self.started
        remaining = max(self.total_epochs - epochs_done, 0)
        left = "?" if remaining else "0:00"
        if self._first and self.epochs_here > self._first[1] and remaining:
            rate = (now - self._first[0]) / (self.epochs_here - self._first[1])
            left = _clock(rate * remaining)
        total = max(self.total_trials, trials_done)
        return (f"{trials_done}/{total} trials  {_clock(elapsed)} elapsed  "
                f"~{left} left")


def describe_trial(trial: kt.engine.trial.Trial, objective: str, epochs: int) -> str:
    """Returns one line on a finished trial: id, taps, score, epochs, time.

    A trial that failed before it reported has no time; its line says so by
    leaving the time out.
    """
    taps = format_taps(active_taps(trial.hyperparameters.values))
    taps = taps or "(baseline: no taps)"
    if trial.status == "COMPLETED":
        score = f"{objective} {trial.score:.4f}"
    else:  # the failure's own last line: what went wrong, without the traceback
        why = one_line(trial.message)
        score = trial.status.lower() + (f" ({why})" if why else "")
    seconds = (trial.metrics.get_last_value(names.TRIAL_SECONDS)
               if trial.metrics.exists(names.TRIAL_SECONDS) else None)
    wall = f"  {seconds:.1f}s" if seconds is not None else ""
    return f"trial {trial.trial_id}  {taps}  {score}  {epochs} ep{wall}"


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"
