"""Names: of the search's hyperparameters, the trial model's outputs, and
what a trial reports. One place writes and reads them all.

Hyperparameters are namespaced like Keras Tuner's own `tuner/...` ones:
`tap/<slot>` switches a tap on (a boolean per candidate layer, or with
`max_taps` a layer name per slot), and `weight/<slot>`, `kind/<slot>`,
`units/<slot>` and `schedule/<slot>` describe it. The model's own output is
`main`; each auxiliary loss has an output of its own (`output_name`).
"""

from __future__ import annotations

import re
from typing import Any

MAIN = "main"  # the user's model's output
RESERVED = "tuner/"  # Keras Tuner's own hyperparameters (epochs, rounds, parents)
# Keras Tuner's own hyperparameters of a Hyperband trial.
EPOCHS = f"{RESERVED}epochs"  # the epochs to reach, counted from 0
INITIAL_EPOCH = f"{RESERVED}initial_epoch"  # the parent's epochs (0 in round 0)
BRACKET, ROUND = f"{RESERVED}bracket", f"{RESERVED}round"
PARENT = f"{RESERVED}trial_id"  # the trial whose checkpoint a promotion starts from

# The fields of a tap, each a hyperparameter `<field>/<slot>`.
TAP, WEIGHT, KIND, UNITS, SCHEDULE = "tap", "weight", "kind", "units", "schedule"
HP_FIELDS = (TAP, WEIGHT, KIND, UNITS, SCHEDULE)
NO_TAP = "none"  # a slot's value when it taps nothing

# Output names by tap kind: `aux_<layer>` (heads), `penalty_<layer>`, `hint_<layer>`.
OUTPUT_PREFIXES = {"head": "aux_", "penalty": "penalty_", "hint": "hint_"}
HINT_KEY = "hint/"  # `y["hint/<layer>"]`: a hint's targets, beside `y["main"]`

# What a trial reports besides Keras' logs (kept with the trial's metrics).
AT_EPOCH = "at_epoch/"  # `at_epoch/<n>`: the objective at absolute epoch n
CHANCE_SCORE = "chance_score"  # the objective of the best constant prediction
EPOCHS_TRAINED = "epochs_trained"
FIT_SECONDS = "fit_seconds"
TRIAL_SECONDS = "trial_seconds"  # build and fit


def hp_name(field: str, slot: str) -> str:
    """Returns the hyperparameter name of a tap field: `weight/conv2`."""
    return f"{field}/{slot}"


def split_hp(name: str) -> tuple[str, str] | None:
    """Returns `(field, slot)` of a tap hyperparameter's name, else `None`."""
    field, sep, slot = name.partition("/")
    return (field, slot) if sep and field in HP_FIELDS else None


def is_reserved(name: str) -> bool:
    """Whether a hyperparameter is one of Keras Tuner's own (`tuner/...`)."""
    return name.startswith(RESERVED)


def user_values(values: dict[str, Any]) -> dict[str, Any]:
    """Returns hyperparameter values without Keras Tuner's own."""
    return {key: value for key, value in values.items() if not is_reserved(key)}


# How a leaderboard cell of each tap field reads back (CSV cells are text).
HP_TYPES = {
    TAP: lambda v: str(v) == "True" if str(v) in ("True", "False") else v,
    WEIGHT: float,
    KIND: str,
    SCHEDULE: str,
    UNITS: lambda v: int(float(v)),
}


def output_name(layer: str, kind: str = "head", units: int = 0) -> str:
    """Returns the output name of an auxiliary loss on `layer`.

    `aux_<layer>` for a head (`aux_<layer>_h<units>` with a hidden layer),
    `penalty_<layer>` and `hint_<layer>` for the other kinds; characters that
    are not allowed in names become `_`.
    """
    stem = OUTPUT_PREFIXES[kind] + re.sub(r"\W", "_", layer)
    return f"{stem}_h{units}" if kind == "head" and units else stem


def objective_name(metric: str) -> str:
    """Returns the objective of the main output's validation `metric`."""
    return f"val_{MAIN}_{metric}"


def objective_metric(objective: str) -> str:
    """Returns the metric an objective name reads: `val_main_mae` -> `mae`."""
    return objective.removeprefix(f"val_{MAIN}_")


# Validation metrics kept per output in the leaderboards (not `val_loss`:
# the weighted sum, whose weights differ between configurations).
PER_OUTPUT_METRICS = tuple(f"val_{prefix}" for prefix in (
    f"{MAIN}_", *OUTPUT_PREFIXES.values()))


# A packed model (see `packed`) holds K copies of a trial model: copy i's
# outputs and inputs are named `c<i>_<output>` and `c<i>_in<j>`.
def packed_output(copy: int, output: str) -> str:
    """Returns the name of copy `copy`'s output `output` in a packed model."""
    return f"c{copy}_{output}"


def packed_input(copy: int, index: int) -> str:
    """Returns the name of copy `copy`'s `index`-th input in a packed model."""
    return f"c{copy}_in{index}"


def copy_logs(logs: dict[str, Any], copy: int) -> dict[str, Any]:
    """Returns one copy's entries of a packed model's logs, by unpacked names.

    `c1_main_accuracy` becomes `main_accuracy`, `val_c1_aux_x_loss`
    becomes `val_aux_x_loss`; other copies' entries and the packed model's
    own (its summed `loss`) are left out.
    """
    prefix, own = packed_output(copy, ""), {}
    for key, value in logs.items():
        val = "val_" if key.startswith("val_") else ""
        bare = key[len(val):]
        if bare.startswith(prefix):
            own[val + bare[len(prefix):]] = value
    return own
