"""The one compiled model a search trains, trial after trial.

Tracing a Keras model's training and evaluation steps costs seconds; the
arithmetic of a small trial often costs less. So a search compiles one model
that holds every candidate head, with each head's loss weight in a
non-trainable variable (0 turns the head off), and starts each trial by
assigning values: fresh weights, the optimizer's initial state, the trial's
loss weights. Keras then reuses the traced steps.
"""

from __future__ import annotations

from typing import Any

import keras

from auxsearch.heads import MAIN


class TracedModel:
    """A compiled multi-output model whose trials start by assignment.

    Args:
        model: The model with every head, freshly initialised, uncompiled.
        compile_args: `optimizer`; `loss` and `metrics`, each one value for
            every output or a dict by output name (outputs left out of the
            `metrics` dict get none); optionally `steps_per_execution`.
    """

    def __init__(self, model: keras.Model, compile_args: dict[str, Any]) -> None:
        self.model = model
        names = list(model.output_names)
        self.loss_weights = {
            name: keras.Variable(0.0, trainable=False, name=f"{name}_weight")
            for name in names if name != MAIN
        }
        loss, metrics = compile_args["loss"], compile_args["metrics"]
        model.compile(
            optimizer=compile_args["optimizer"],
            loss=loss if isinstance(loss, dict) else dict.fromkeys(names, loss),
            loss_weights={MAIN: 1.0, **self.loss_weights},
            metrics=metrics if isinstance(metrics, dict)
            else {name: list(metrics) for name in names},
            steps_per_execution=compile_args.get("steps_per_execution", 1),
        )
        model.optimizer.build(model.trainable_variables)
        self._optimizer_start = [v.numpy() for v in model.optimizer.variables]

    def reset(self, fresh: keras.Model) -> None:
        """Takes a fresh model's weights and restarts the optimizer.

        Args:
            fresh: A newly built model of the same architecture.
        """
        self.model.set_weights(fresh.get_weights())
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_start):
            variable.assign(value)

    def set_loss_weights(self, weights: dict[str, float]) -> None:
        """Sets each head's loss weight; heads not named get 0 (off)."""
        unknown = set(weights) - set(self.loss_weights)
        if unknown:
            raise KeyError(f"no heads named {sorted(unknown)}")
        for name, variable in self.loss_weights.items():
            variable.assign(weights.get(name, 0.0))
