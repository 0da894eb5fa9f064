"""Scale-out on Keras Tuner's own distributed mode: a chief, and workers.

The entry points the command line uses; the pieces live in their own
modules:

- `chief`: `Chief`, a search whose process serves the oracle over gRPC,
  trains nothing, and ends the trials of dead workers;
- `worker`: `run_worker`, which trains a chief's trials until told to stop;
- `workers`: `LocalWorkers`, the chief's worker processes on this machine.

What they reach of Keras Tuner's internals is in `auxsearch.kt`
(`kt.remote`, `kt.bookkeeping`).
"""

from __future__ import annotations

from auxsearch.search.chief import DEFAULT_TRIAL_TIMEOUT, Chief
from auxsearch.search.worker import CONNECT_TIMEOUT, parse_address, run_worker, wait_for_chief

__all__ = [
    "CONNECT_TIMEOUT", "DEFAULT_TRIAL_TIMEOUT", "Chief", "parse_address", "run_worker",
    "wait_for_chief",
]
