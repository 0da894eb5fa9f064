"""The benchmarks' searches, as search-space files.

- `default`: auxsearch's default space (8x8 digits, six 16-filter convs,
  Hyperband max_epochs=9: 23 trials, 75 epochs). Each step is tiny: the
  search's time goes to tracing and Keras Tuner's per-trial bookkeeping.
- `compute`: the same digits upsampled to 32x32 and a wider CNN (six 3x3
  convs of 32, 32, 64, 64, 128 and 128 filters, max pooling between pairs;
  about 76 MFLOP per example forward), Hyperband max_epochs=3. Arithmetic
  dominates, on a CPU at least.
- `segmentation`: the shipped segmentation example,
  `search_spaces/digits_segmentation.toml` (two digits per 12x20 canvas, a
  plain encoder-decoder of fifteen convs, 11 classes per pixel, Hyperband
  max_epochs=9), which `python -m bench --workload segmentation` measures;
  the other benchmarks run the first two (`WORKLOADS`).

Keras-free until a model is built, so that the measuring process chooses
its backend first.
"""

from __future__ import annotations

import re
from pathlib import Path

WORKLOADS = ("default", "compute")
SEGMENTATION = "segmentation"
# The two taps of each workload's step-time measurement; the segmentation
# model's are at 1/2 and 1/4 of the input's resolution.
TWO_TAPS = {"default": ["conv2", "conv5"], "compute": ["conv2", "conv5"],
            "segmentation": ["enc2_3", "enc3_3"]}
REPO = Path(__file__).resolve().parents[1]
SEGMENTATION_SPACE = REPO / "search_spaces" / "digits_segmentation.toml"

COMPUTE_SPACE = """\
# bench.workloads: 32x32 digits, a wider CNN (written by bench.backends).
name = "digits32_wide"
seed = 1

[model]
builder = "bench.workloads:wide_cnn"

[data]
file = "digits32.npz"
task = "multiclass"

[taps]
candidates = ["conv*"]
weight_range = [0.01, 1.0]

[training]
batch_size = 64

[hyperband]
max_epochs = {max_epochs}
factor = 3
baseline_seeds = 0
race_seeds = 0
"""


def wide_cnn(input_shape: tuple[int, ...], num_outputs: int, activation: str = "softmax"):
    """Six 3x3 conv layers, `conv1` to `conv6`, 32 to 128 filters, then `predictions`."""
    import keras

    inputs = keras.Input(input_shape, name="image")
    h = inputs
    for i, filters in enumerate((32, 32, 64, 64, 128, 128), start=1):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(h)
        if i in (2, 4):
            h = keras.layers.MaxPooling2D(name=f"pool{i // 2}")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(num_outputs, activation=activation, name="predictions")(h)
    return keras.Model(inputs, outputs, name="wide_cnn")


def space_file(workload: str, folder: Path, max_epochs: int | None = None) -> Path | None:
    """Writes the workload's space (and data) into `folder`; `None`: the default space.

    Args:
        workload: One of `WORKLOADS`, or `SEGMENTATION`.
        folder: Where the space file and its data go.
        max_epochs: Hyperband's max_epochs, or `None` for the workload's own.
    """
    if workload == "default":
        return None
    if workload == "segmentation":  # the shipped space; its loader imports from the repository
        text = SEGMENTATION_SPACE.read_text()
        if max_epochs:
            text = re.sub(r"(?m)^max_epochs = \d+$", f"max_epochs = {max_epochs}", text)
        path = folder / SEGMENTATION_SPACE.name
        path.write_text(text)
        return path
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    # 4x nearest-neighbour upsampling: 8x8 to 32x32, the same information.
    np.savez(folder / "digits32.npz", x_train=images.repeat(4, axis=1).repeat(4, axis=2),
             y_train=y.astype("int32"))
    path = folder / "digits32_wide.toml"
    path.write_text(COMPUTE_SPACE.format(max_epochs=max_epochs or 3))
    return path
