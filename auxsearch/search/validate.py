"""Checking a space without a search: `validate` and `list_taps`.

Both load what the search would (the data, the model, the taps) and report
what they found as plain data; the command line formats it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from auxsearch.core.space import SearchSpace, objective_of
from auxsearch.models.taps import Tap, find_taps, map_rank
from auxsearch.search.run import data_source, load_dataset, make_hypermodel
from auxsearch.search.tuner import hyperband_budget
from auxsearch.trial.preflight import preflight


@dataclass(frozen=True)
class TapListing:
    """The layers a space's model can tap, and which of them the space selects.

    Attributes:
        space: The space.
        model_name: The model's name.
        layers: Integer, how many layers the model has.
        candidates: Every tappable layer, in the model's order.
        selected: The names of the candidates the space selects.
    """

    space: SearchSpace
    model_name: str
    layers: int
    candidates: list[Tap]
    selected: list[str]


@dataclass(frozen=True)
class ValidationReport:
    """What `validate` found: a space checked end to end, without training.

    Attributes:
        space: The space.
        seconds: Float, how long the check took.
        model_source: The space's model: a built-in name, builder or file.
        model_name: The model's name.
        layers: Integer, how many layers the model has.
        output_shape: The model's output shape.
        data_source: The space's data: a built-in name or file.
        task: The task's name.
        examples: `(train, validation, test)` example counts.
        input_shape: The shape of one example.
        hints: The layers that have hint targets.
        candidates: The candidate taps the space selects.
        tappable: Integer, how many layers could be tapped.
        configurations: Integer, how many tap configurations the space holds.
        objective: `(name, direction)` of the objective.
        budget: `(trials, epochs)` the Hyperband settings imply.
        preflight_seconds: Float, how long the preflight's training and
            evaluation step took (see `preflight`).
    """

    space: SearchSpace
    seconds: float
    model_source: str
    model_name: str
    layers: int
    output_shape: tuple
    data_source: str
    task: str
    examples: tuple[int, int, int]
    input_shape: tuple
    hints: list[str]
    candidates: list[str]
    tappable: int
    configurations: int
    objective: tuple[str, str]
    budget: tuple[int, int]
    preflight_seconds: float


def list_taps(space: SearchSpace) -> TapListing:
    """Lists the layers the space's model can tap; builds the model once.

    Raises:
        AuxSearchError: If the data, the model or the taps are not usable.
    """
    hypermodel = make_hypermodel(space, load_dataset(space))
    model = hypermodel.build_model()
    rank = map_rank(model, hypermodel.task)  # a per-position task taps maps only
    return TapListing(space, model.name, len(model.layers), find_taps(model, rank),
                      [tap.name for tap in hypermodel.taps])


def validate(space: SearchSpace) -> ValidationReport:
    """Checks a space end to end without training: data, model, taps, budget.

    Builds the model once, resolves the taps, loads and checks the data, and
    runs the preflight (one training step of a trial model on the data).

    Raises:
        AuxSearchError: If anything of the space is not usable.
    """
    started = time.perf_counter()
    data = load_dataset(space)
    hypermodel = make_hypermodel(space, data)
    model = hypermodel.build_model()
    spec, band = space.model, space.hyperband
    seconds = preflight(hypermodel.trainer, data, data_source(space))
    return ValidationReport(
        space=space,
        seconds=time.perf_counter() - started,
        model_source=spec.builtin or spec.builder or spec.file,
        model_name=model.name,
        layers=len(model.layers),
        output_shape=tuple(model.outputs[0].shape),
        data_source=data_source(space),
        task=data.task,
        examples=(len(data.y_train), len(data.y_val), len(data.y_test)),
        input_shape=data.input_shape,
        hints=list(data.hints),
        candidates=[tap.name for tap in hypermodel.taps],
        tappable=len(find_taps(model, map_rank(model, hypermodel.task))),
        configurations=hypermodel.space.count(),
        objective=objective_of(space),
        budget=hyperband_budget(band.max_epochs, band.factor, band.hyperband_iterations),
        preflight_seconds=seconds,
    )
