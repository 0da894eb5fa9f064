"""A plain encoder-decoder for per-pixel classes: no skips, no normalisation.

Fifteen 3x3 conv layers, ReLU, in five stages of three: `enc1_1`..`enc1_3`
at the input's resolution, `enc2_*` at 1/2 (after `pool1`), `enc3_*` at 1/4
(after `pool2`), then `dec2_*` at 1/2 (after `up2`) and `dec1_*` at full
resolution (after `up1`); a 1x1 conv, `predictions`, gives each pixel's
class. Without skip connections every pixel's label has to cross all fifteen
layers, as in a plain FCN or SegNet without its pooling indices: the case
auxiliary losses on intermediate layers were proposed for. Use it from a
search space as ``builder = "search_spaces.models.digits_segmentation:build"``
(run from the repository root); the input's height and width must be
divisible by 4.
"""

from __future__ import annotations

import keras

WIDTHS = {1: 8, 2: 16, 3: 32}  # filters at full, 1/2 and 1/4 resolution
CONVS = 3  # per stage


def build(
    input_shape: tuple[int, ...], num_outputs: int, activation: str = "softmax"
) -> keras.Model:
    """The encoder-decoder, `(b, H, W, C)` to `(b, H, W, num_outputs)`.

    Args:
        input_shape: An image shape, `(height, width, channels)`.
        num_outputs: The number of classes: channels of `predictions`.
        activation: Activation of `predictions`, per pixel.
    """
    inputs = keras.Input(input_shape, name="image")
    h = inputs
    for stage, level in (("enc", 1), ("enc", 2), ("enc", 3), ("dec", 2), ("dec", 1)):
        if stage == "enc" and level > 1:
            h = keras.layers.MaxPooling2D(name=f"pool{level - 1}")(h)
        if stage == "dec":
            h = keras.layers.UpSampling2D(name=f"up{level}")(h)
        for i in range(1, CONVS + 1):
            h = keras.layers.Conv2D(WIDTHS[level], 3, padding="same", activation="relu",
                                    name=f"{stage}{level}_{i}")(h)
    outputs = keras.layers.Conv2D(num_outputs, 1, activation=activation, name="predictions")(h)
    return keras.Model(inputs, outputs, name="digits_segmentation")
