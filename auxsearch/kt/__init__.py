"""Keras Tuner's internals, behind one boundary.

auxsearch relies on parts of Keras Tuner that are not public. Every
`keras_tuner.src` import and every use of a private Keras Tuner member is in
this package, behind public names; no other module imports `keras_tuner.src`
or touches a private member of Keras Tuner. Its modules:

- `version`: the version gate, `SUPPORTED` and `check_version`; importing
  this package runs it first, before any module imports `keras_tuner.src`.
- `output`: what Keras Tuner prints by itself (`show_tracebacks`,
  `muted_condition_print`).
- `errors`: `FatalTrialError`, an auxsearch error that is also one of Keras
  Tuner's fatal errors.
- `project`: a project's files: its directory, state files written
  atomically, checkpoints (`SaveBestEpoch`).
- `bookkeeping`: an oracle's running and ended trials and its tuners, read
  and changed under the oracle's lock (`oracle_lock`, `running_trials`,
  `fail_trial`, `forget_tuner`, ...).
- `oracle`: `HyperbandOracleBase`, Keras Tuner's Hyperband oracle with public
  hooks, and `hyperband_brackets`, its bracket maths.
- `loop`: `HyperbandTunerBase`, Keras Tuner's Hyperband tuner with public
  hooks, and its search loop holding several trials at once.
- `hypermodel`: `copy_hypermodel`.
- `remote`: Keras Tuner's distributed mode: `ChiefServicer`, `WorkerClient`,
  `connect_worker`, `serve`, `tuner_env`.

Upgrading Keras Tuner means reading these modules against the new version,
and widening `version.SUPPORTED`.
"""

from __future__ import annotations

from auxsearch.kt import version  # noqa: F401  (refuses an unsupported keras-tuner first)
