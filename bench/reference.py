"""The reference: the same search written by hand with Keras Tuner alone.

This is what a Keras user writes without auxsearch, following the Keras
multi-output guide and the Keras Tuner docs: a new model per trial, with an
auxiliary softmax head on each tapped conv layer, a loss dict with
`loss_weights`, the labels copied to every output, and Hyperband on the main
head's validation accuracy. It searches a workload of `bench.workloads` as
auxsearch does: the same model, data split, candidate taps, weight range,
training settings, Hyperband settings and seed.

- `default`: auxsearch's default space (six 16-filter convs on 8x8 digits).
- `compute`: the digits upsampled to 32x32 and the wide CNN (six convs of 32
  to 128 filters, max pooling after the second and fourth).
- `segmentation`: the shipped segmentation example's encoder-decoder on its
  loader's masks, each tapped conv given an FCN-style head (a 1x1 conv to
  the classes, its logits resized bilinearly to the mask's size, as
  mmsegmentation's auxiliary heads do), up to `max_taps` taps chosen by
  slots, and Hyperband on the main output's validation mean IoU.

Usage: python -m bench.reference RUN_DIR [MAX_EPOCHS] [WORKLOAD]
Prints one JSON line: wall seconds, trials, epochs, best score.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import keras
import keras_tuner as kt

from auxsearch.core.space import load_space
from auxsearch.data.load import load_data, load_digits
from bench.workloads import SEGMENTATION, WORKLOADS, space_file

N_CONV = 6
# Per workload: the input shape, each conv's filters, the convs followed by
# max pooling, and the main head's pooling (as the workload's model has it).
MODELS = {
    "default": ((8, 8, 1), (16,) * N_CONV, (), "flatten"),
    "compute": ((32, 32, 1), (32, 32, 64, 64, 128, 128), (2, 4), "average"),
}


class AuxHyperModel(kt.HyperModel):
    def __init__(self, low: float, high: float, learning_rate: float,
                 workload: str = "default") -> None:
        super().__init__()
        self.low, self.high, self.learning_rate = low, high, learning_rate
        self.input_shape, self.filters, self.pooled_after, self.main_pooling = MODELS[workload]

    def build(self, hp):
        inputs = keras.Input(self.input_shape)
        h = inputs
        outputs, weights = {}, {}
        for i, filters in enumerate(self.filters, start=1):
            h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                    name=f"conv{i}")(h)
            if hp.Boolean(f"tap_conv{i}"):
                with hp.conditional_scope(f"tap_conv{i}", [True]):
                    weight = hp.Float(f"weight_conv{i}", self.low, self.high, sampling="log")
                pooled = keras.layers.GlobalAveragePooling2D()(h)
                outputs[f"aux_conv{i}"] = keras.layers.Dense(
                    10, activation="softmax", name=f"aux_conv{i}")(pooled)
                weights[f"aux_conv{i}"] = weight
            if i in self.pooled_after:
                h = keras.layers.MaxPooling2D()(h)
        if self.main_pooling == "flatten":
            h = keras.layers.Flatten()(h)
        else:
            h = keras.layers.GlobalAveragePooling2D()(h)
        outputs["main"] = keras.layers.Dense(10, activation="softmax", name="main")(h)
        return self.compiled(keras.Model(inputs, outputs), weights,
                             lambda names: {n: ["accuracy"] for n in names})

    def compiled(self, model, weights, metrics):
        """The model compiled as the Keras guides do: a loss dict, `loss_weights`, Adam.

        `metrics` gives the metrics dict from the output names.
        """
        names = model.output_names
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss={n: "sparse_categorical_crossentropy" for n in names},
            loss_weights={n: weights.get(n, 1.0) for n in names},
            metrics=metrics(names),
        )
        return model

    def fit(self, hp, model, x, y, validation_data, **kwargs):
        names = model.output_names
        x_val, y_val = validation_data
        if len(names) == 1:  # Keras drops the "main_" prefix of a single output
            history = model.fit(x, y, validation_data=(x_val, y_val), **kwargs)
            history.history = {("val_main_" + k[4:]) if k.startswith("val_") else "main_" + k: v
                               for k, v in history.history.items()}
            return history
        return model.fit(x, {n: y for n in names},
                         validation_data=(x_val, {n: y_val for n in names}), **kwargs)


class SegmentationHyperModel(AuxHyperModel):
    """The segmentation example by hand: the encoder-decoder, heads on the chosen convs."""

    # (stage, level): three 3x3 convs each, at 1/2**(level - 1) of the input's resolution.
    STAGES = (("enc", 1), ("enc", 2), ("enc", 3), ("dec", 2), ("dec", 1))
    FILTERS = {1: 8, 2: 16, 3: 32}
    CANDIDATES = [f"{stage}{level}_{i}" for stage, level in STAGES for i in (1, 2, 3)]

    def __init__(self, low: float, high: float, learning_rate: float, max_taps: int,
                 input_shape: tuple[int, ...], num_classes: int) -> None:
        kt.HyperModel.__init__(self)
        self.low, self.high, self.learning_rate = low, high, learning_rate
        self.max_taps, self.input_shape, self.num_classes = max_taps, input_shape, num_classes

    def build(self, hp):
        weights = {}
        for slot in range(1, self.max_taps + 1):
            layer = hp.Choice(f"tap{slot}", ["none", *self.CANDIDATES])
            if layer != "none":
                with hp.conditional_scope(f"tap{slot}", self.CANDIDATES):
                    weights[f"aux_{layer}"] = hp.Float(f"weight{slot}", self.low, self.high,
                                                       sampling="log")
        inputs = keras.Input(self.input_shape)
        h = inputs
        outputs = {}
        for stage, level in self.STAGES:
            if stage == "enc" and level > 1:
                h = keras.layers.MaxPooling2D()(h)
            if stage == "dec":
                h = keras.layers.UpSampling2D()(h)
            for i in (1, 2, 3):
                name = f"{stage}{level}_{i}"
                h = keras.layers.Conv2D(self.FILTERS[level], 3, padding="same",
                                        activation="relu", name=name)(h)
                if f"aux_{name}" in weights:
                    logits = keras.layers.Conv2D(self.num_classes, 1)(h)
                    logits = keras.layers.Resizing(*self.input_shape[:2],
                                                   interpolation="bilinear")(logits)
                    outputs[f"aux_{name}"] = keras.layers.Softmax(name=f"aux_{name}")(logits)
        outputs["main"] = keras.layers.Conv2D(self.num_classes, 1, activation="softmax",
                                              name="main")(h)
        return self.compiled(keras.Model(inputs, outputs), weights, lambda names: {
            "main": [keras.metrics.MeanIoU(self.num_classes, sparse_y_pred=False,
                                           name="mean_iou")]})


def main(run_dir: str, max_epochs: str | int | None = None, workload: str = "default") -> dict:
    """Runs the hand-written search of `workload`; returns its measurements.

    The segmentation workload's data come from its loader as they are (the
    loader gives the validation split).

    Args:
        run_dir: Keras Tuner's directory.
        max_epochs: Hyperband's max_epochs; empty or `None`: the workload's.
        workload: One of `bench.workloads.WORKLOADS`, or `SEGMENTATION`.
    """
    if workload not in (*WORKLOADS, SEGMENTATION):
        raise SystemExit(f"bench.reference: unknown workload {workload!r}; "
                         f"allowed: {', '.join((*WORKLOADS, SEGMENTATION))}")
    # The workload's space gives the settings (and, for `compute`, the data file).
    space = load_space(space_file(workload, Path(tempfile.mkdtemp(prefix="bench-ref-"))))
    band, split = space.hyperband, space.data
    objective = "val_main_accuracy"
    if workload == "default":
        data = load_digits(space.seed, split.validation_fraction, split.test_fraction)
    elif workload == SEGMENTATION:  # the arrays straight from the example's loader
        from search_spaces.data.digits_segmentation import load

        data = SimpleNamespace(**{k: v for k, v in load().items() if "test" not in k})
    else:
        data = load_data(split.file, split.task, space.seed, split.validation_fraction,
                         split.test_fraction)
    if workload == SEGMENTATION:
        hypermodel = SegmentationHyperModel(
            *space.taps.weight_range, space.training.learning_rate, space.taps.max_taps,
            data.x_train.shape[1:], int(data.y_train.max()) + 1)
        objective = "val_main_mean_iou"
    else:
        hypermodel = AuxHyperModel(*space.taps.weight_range, space.training.learning_rate,
                                   workload)
    started = time.perf_counter()
    tuner = kt.Hyperband(
        hypermodel,
        objective=kt.Objective(objective, "max"),
        max_epochs=int(max_epochs) if max_epochs else band.max_epochs,
        factor=band.factor,
        seed=space.seed,
        directory=run_dir,
        project_name="search",
        overwrite=True,
    )
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                 batch_size=space.training.batch_size, verbose=0)
    wall = time.perf_counter() - started
    trials = list(tuner.oracle.trials.values())
    return {
        "wall_seconds": wall,
        "trials": len(trials),
        "epochs": sum(t.hyperparameters.values["tuner/epochs"]
                      - t.hyperparameters.values["tuner/initial_epoch"] for t in trials),
        "best": max(t.score for t in trials if t.score is not None),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
