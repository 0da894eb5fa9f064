"""Packed models: K copies of a trial model in one compiled model.

One small model does not fill a machine, and tracing its steps can cost
more than training it. A packed model holds K copies of the trial model
that `traced` compiles (every candidate output), side by side: copy i reads
its own inputs `c<i>_in<j>` and has its own outputs `c<i>_<output>`, its
own weights, heads and loss weight variables (the main output's too, so a
copy can be switched off), and its own optimizer slots, since the optimizer
updates each variable from its own gradient and the copies share none. The
summed loss's gradient with respect to one copy's weights is that copy's
loss's gradient: each copy trains as it would alone.

`PackedModels` traces one packed model per size and starts each group of
trials by assignment, as `traced.TracedModels` does for one trial.
Checkpoints are read and written through an unpacked `TracedModel` (the
template), so a packed trial's checkpoint is the one it would have had
unpacked, and a promotion may train packed or not whatever its parent did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from auxsearch.core.names import MAIN, copy_logs, packed_input, packed_output
from auxsearch.trial import checkpoints
from auxsearch.trial.traced import TracedModel


class PackedModel:
    """K copies of a trial model, compiled as one model.

    Args:
        copies: K freshly built trial models of one architecture.
        compile_args: Returns a trial model's compile arguments (see
            `traced.TracedModel`) with new metric objects on every call.
    """

    def __init__(self, copies: list[keras.Model],
                 compile_args: Callable[[], dict[str, Any]]) -> None:
        self.size = len(copies)
        self.output_names = list(copies[0].output_names)
        inputs, outputs = {}, {}
        for i, trial in enumerate(copies):
            # A nested model per copy: its layers' names need not be unique.
            copy = keras.Model(trial.input, trial.output, name=f"copy{i}")
            own = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=packed_input(i, j))
                   for j, t in enumerate(keras.tree.flatten(copy.input))]
            inputs.update({t.name: t for t in own})
            out = copy(keras.tree.pack_sequence_as(copy.input, own))
            outputs.update({packed_output(i, name): out[name] for name in self.output_names})
        self.model = keras.Model(inputs, outputs, name="packed")
        # As in `TracedModel`: model weights, not free variables (JAX).
        self.loss_weights = [
            {name: self.model.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name=f"{packed_output(i, name)}_weight")
             for name in self.output_names}
            for i in range(self.size)]
        self.copy_weights = [list(trial.weights) for trial in copies]
        args = [compile_args() for _ in copies]
        self.model.compile(
            optimizer=args[0]["optimizer"],
            loss={packed_output(i, name): a["loss"][name]
                  for i, a in enumerate(args) for name in self.output_names},
            loss_weights={packed_output(i, name): variable
                          for i, weights in enumerate(self.loss_weights)
                          for name, variable in weights.items()},
            metrics={packed_output(i, name): a["metrics"][name]
                     for i, a in enumerate(args) for name in self.output_names
                     if name in a["metrics"]},
            steps_per_execution=args[0].get("steps_per_execution", 1),
        )
        self.model.optimizer.build(self.model.trainable_variables)
        self._optimizer_start = [v.numpy() for v in self.model.optimizer.variables]

    def start(self, values: list[list[np.ndarray] | None]) -> None:
        """Starts a group: each copy's weights, every output off, the optimizer new.

        Args:
            values: Each copy's weights (a trial model's, in its order), or
                `None` to leave a copy as it is (an unused copy).
        """
        for weights, own in zip(self.copy_weights, values):
            if own is not None:
                for variable, value in zip(weights, own, strict=True):
                    variable.assign(value)
        for i in range(self.size):
            self.switch_off(i)
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_start):
            variable.assign(value)

    def switch_on(self, copy: int) -> None:
        """Counts copy `copy`'s main loss (its auxiliary weights are set apart)."""
        self.loss_weights[copy][MAIN].assign(1.0)

    def switch_off(self, copy: int) -> None:
        """Zeroes every loss weight of a copy: its gradients become 0 (masked)."""
        for variable in self.loss_weights[copy].values():
            variable.assign(0.0)

    def values(self, copy: int) -> list[np.ndarray]:
        """Returns a copy's weights, in a trial model's order."""
        return [v.numpy() for v in self.copy_weights[copy]]

    def copy_loss_weights(self, copy: int) -> dict[str, Any]:
        """A copy's auxiliary loss weight variables, by its trial model's output names."""
        return {name: v for name, v in self.loss_weights[copy].items() if name != MAIN}

    def copy_logs(self, logs: dict[str, Any], copy: int) -> dict[str, Any]:
        """A copy's entries of the packed model's logs, by its trial model's names."""
        return copy_logs(logs, copy)

    def inputs(self, x: Any) -> dict[str, Any]:
        """Returns the packed inputs that give every copy the features `x`."""
        flat = keras.tree.flatten(x)
        return {packed_input(i, j): a for i in range(self.size) for j, a in enumerate(flat)}


class PackedModels:
    """Hands out packed models, one traced per size, and reads and writes checkpoints.

    Args:
        make: Builds a fresh trial model (every output) from the global
            generators, as `traced.TracedModels` does.
        compile_args: A trial model's compile arguments (new metric objects
            on every call).
    """

    def __init__(self, make: Callable[[], keras.Model],
                 compile_args: Callable[[], dict[str, Any]]) -> None:
        self.make = make
        self.compile_args = compile_args
        self.models: dict[int, PackedModel] = {}
        self._template: TracedModel | None = None

    def get(self, size: int) -> PackedModel:
        """Returns the packed model of `size` copies (built and compiled once)."""
        if size not in self.models:
            self.models[size] = PackedModel([self.make() for _ in range(size)],
                                            self.compile_args)
        return self.models[size]

    @property
    def template(self) -> TracedModel:
        """An unpacked trial model: the format of every checkpoint."""
        if self._template is None:
            self._template = TracedModel(self.make(), self.compile_args())
        return self._template

    def load(self, path: str) -> list[np.ndarray]:
        """Returns the weights of a trial's checkpoint (unpacked format)."""
        template = self.template
        checkpoints.read(template.model, path)
        return [v.numpy() for v in template.layer_weights]

    def save(self, values: list[np.ndarray], path: str, loss_weights: dict[str, float]) -> None:
        """Writes a copy's weights as the checkpoint an unpacked trial would write."""
        self.template.save(values, path, loss_weights)
