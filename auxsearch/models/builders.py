"""Models to search on: built-ins, user builder functions and `.keras` files.

Every built-in is a builder ``(input_shape, num_outputs, activation) ->
Model``. `model_builder` turns the ``[model]`` table's one source (`builtin`,
`builder` or `file`) into a zero-argument callable that builds a new,
freshly initialised model on every call, once per trial.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from auxsearch.core.errors import ModelError
from auxsearch.core.imports import import_function
from auxsearch.core.messages import error_line
from auxsearch.core.suggest import did_you_mean
from auxsearch.core.tasks import ACTIVATIONS

logger = logging.getLogger(__name__)

# The keyword arguments a user builder may declare, in this order.
BUILDER_ARGUMENTS = ("input_shape", "num_outputs", "activation")


def digits_cnn(
    input_shape: tuple[int, ...], num_outputs: int, activation: str = "softmax"
) -> keras.Model:
    """A deep plain CNN: six 3x3 conv layers, `conv1` to `conv6`, no shortcuts.

    Deep, narrow and without normalisation or skip connections, it is the
    kind of network deep supervision was proposed for.

    Args:
        input_shape: An image shape, `(height, width, channels)`.
        num_outputs: Units of the `predictions` layer.
        activation: Activation of the `predictions` layer.
    """
    _check_image("digits_cnn", input_shape)
    inputs = keras.Input(input_shape, name="image")
    h = inputs
    for i in range(1, 7):
        h = keras.layers.Conv2D(
            16, 3, padding="same", activation="relu", name=f"conv{i}"
        )(h)
    h = keras.layers.Flatten(name="flatten")(h)
    outputs = keras.layers.Dense(
        num_outputs, activation=activation, name="predictions"
    )(h)
    return keras.Model(inputs, outputs, name="digits_cnn")


def residual_cnn(
    input_shape: tuple[int, ...], num_outputs: int, activation: str = "softmax"
) -> keras.Model:
    """A small ResNet-style CNN for small images such as 8x8 digits.

    A `stem` conv, then three residual blocks (`block1` to `block3`), each
    two 3x3 convs (`blockN_conv1`, `blockN_conv2`) whose output is added to
    the block's input (`blockN_add`) before a ReLU (`blockN_relu`). Block 2
    halves the resolution and doubles the width, so its shortcut is a strided
    1x1 conv (`block2_shortcut`). Global average pooling (`pool`) feeds
    `predictions`.

    Args:
        input_shape: An image shape, `(height, width, channels)`.
        num_outputs: Units of the `predictions` layer.
        activation: Activation of the `predictions` layer.
    """
    _check_image("residual_cnn", input_shape)
    inputs = keras.Input(input_shape, name="image")
    h = keras.layers.Conv2D(
        16, 3, padding="same", activation="relu", name="stem"
    )(inputs)
    for block, (filters, strides) in enumerate([(16, 1), (32, 2), (32, 1)], 1):
        name = f"block{block}"
        shortcut = h
        if strides != 1 or h.shape[-1] != filters:
            shortcut = keras.layers.Conv2D(
                filters, 1, strides=strides, name=f"{name}_shortcut"
            )(h)
        h = keras.layers.Conv2D(
            filters, 3, strides=strides, padding="same", activation="relu",
            name=f"{name}_conv1",
        )(h)
        h = keras.layers.Conv2D(
            filters, 3, padding="same", name=f"{name}_conv2"
        )(h)
        h = keras.layers.Add(name=f"{name}_add")([shortcut, h])
        h = keras.layers.Activation("relu", name=f"{name}_relu")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    outputs = keras.layers.Dense(
        num_outputs, activation=activation, name="predictions"
    )(h)
    return keras.Model(inputs, outputs, name="residual_cnn")


def mlp(
    input_shape: tuple[int, ...], num_outputs: int, activation: str = "softmax"
) -> keras.Model:
    """A plain MLP: four 64-unit ReLU layers, `dense1` to `dense4`.

    Works for tabular inputs, `(n_features,)`, and for images, which a
    `flatten` layer first turns into vectors.

    Args:
        input_shape: Any input shape; rank > 1 is flattened.
        num_outputs: Units of the `predictions` layer.
        activation: Activation of the `predictions` layer.
    """
    inputs = keras.Input(input_shape, name="features")
    h = inputs
    if len(input_shape) > 1:
        h = keras.layers.Flatten(name="flatten")(h)
    for i in range(1, 5):
        h = keras.layers.Dense(64, activation="relu", name=f"dense{i}")(h)
    outputs = keras.layers.Dense(
        num_outputs, activation=activation, name="predictions"
    )(h)
    return keras.Model(inputs, outputs, name="mlp")


BUILTIN_MODELS: dict[str, Callable[..., keras.Model]] = {
    "digits_cnn": digits_cnn,
    "residual_cnn": residual_cnn,
    "mlp": mlp,
}

# Built-ins made of 2D convolutions, which need (height, width, channels).
_IMAGE_ONLY = ("digits_cnn", "residual_cnn")


def model_builder(
    builtin: str = "",
    builder: str = "",
    file: str | Path = "",
    unsafe: bool = False,
    *,
    input_shape: tuple[int, ...],
    num_outputs: int,
    activation: str,
) -> Callable[[], keras.Model]:
    """Returns a zero-argument callable that builds a NEW model on every call.

    Exactly one source is given:

    - `builtin`: a name in `BUILTIN_MODELS`.
    - `builder`: ``"package.module:function"``, imported by
      `auxsearch.core.imports.import_function` (the current directory first,
      then `PYTHONPATH` and the installed packages). The function is called
      once per trial with those of the keyword arguments `input_shape` (a
      tuple without the batch axis), `num_outputs` (an int) and `activation`
      (``"softmax"``, ``"sigmoid"`` or ``"linear"``, for the output layer)
      that its signature declares: a function without parameters is called with
      none, one with ``**kwargs`` gets all three. It must return a new,
      uncompiled `keras.Model` each call.
    - `file`: a saved `.keras` model, loaded once here. Each call returns a
      copy with the same architecture and layer names but re-initialised
      weights, so no trial starts from the saved weights or another trial's.
      The model is used as saved (its own output layer and activation); its
      input shape must match `input_shape`. Set `unsafe` only for trusted
      files: it allows Python code in the file, such as `Lambda` layers.

    Args:
        builtin: A built-in model's name.
        builder: A ``module:function`` reference to a builder function.
        file: Path to a `.keras` file.
        unsafe: Load `file` with Keras safe mode off.
        input_shape: The data's input shape, without the batch axis.
        num_outputs: Units of the output layer.
        activation: Activation of the output layer.

    Returns:
        A callable that builds a new model each time it is called.

    Raises:
        ModelError: If not exactly one source is given, or the source cannot
            be found, imported or loaded.
    """
    given = [key for key, value in
             (("builtin", builtin), ("builder", builder), ("file", file))
             if value]
    if len(given) != 1:
        got = f"got {', '.join(given)}" if given else "got none"
        raise ModelError(
            f"[model] needs exactly one of builtin, builder or file; {got}"
        )
    if activation not in ACTIVATIONS:
        raise ModelError(
            f"output activation {activation!r} is not allowed"
            f"{did_you_mean(activation, ACTIVATIONS)}; "
            f"allowed: {', '.join(ACTIVATIONS)}"
        )
    # One input: a shape tuple; several: a dict of them by input name.
    input_shape = dict(input_shape) if isinstance(input_shape, dict) else tuple(input_shape)
    kwargs = {"input_shape": input_shape, "num_outputs": num_outputs,
              "activation": activation}
    if builtin:
        return _builtin(builtin, kwargs)
    if builder:
        return _user_builder(builder, kwargs)
    return _file_builder(Path(file), unsafe, input_shape)


def _builtin(name: str, kwargs: dict[str, Any]) -> Callable[[], keras.Model]:
    if name not in BUILTIN_MODELS:
        raise ModelError(
            f"model.builtin = {name!r} is not a built-in model"
            f"{did_you_mean(name, BUILTIN_MODELS)}; "
            f"allowed: {', '.join(BUILTIN_MODELS)}"
        )
    if name in _IMAGE_ONLY:
        # Fail before the search starts, not at its first trial.
        _check_image(name, kwargs["input_shape"])
    return functools.partial(BUILTIN_MODELS[name], **kwargs)


def _user_builder(
    reference: str, kwargs: dict[str, Any]
) -> Callable[[], keras.Model]:
    where = f"model.builder = {reference!r}"
    function = import_function(reference, where, ModelError, "a keras.Model")
    arguments = _declared(function, kwargs, where)
    logger.info("model builder %s, called with %s", reference,
                ", ".join(arguments) or "no arguments")
    # partial, not a closure, so the builder pickles like the built-ins.
    return functools.partial(_call_builder, function, arguments, where)


def _call_builder(
    function: Callable, arguments: dict[str, Any], where: str
) -> keras.Model:
    model = function(**arguments)
    if not isinstance(model, keras.Model):
        raise ModelError(
            f"{where} returned a {type(model).__name__}; it must return "
            "a keras.Model"
        )
    return model


def _declared(
    function: Callable, kwargs: dict[str, Any], where: str
) -> dict[str, Any]:
    """The subset of `kwargs` that `function`'s signature accepts."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature, e.g. some C callables
        return dict(kwargs)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return dict(kwargs)
    named = {p.name for p in parameters
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for p in parameters:
        required = p.default is p.empty and p.kind not in (
            p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if required and (p.name not in kwargs
                         or p.kind is p.POSITIONAL_ONLY):
            raise ModelError(
                f"{where}: the builder requires parameter {p.name!r}, which "
                "auxsearch does not pass; it may declare only keyword "
                f"parameters among: {', '.join(BUILDER_ARGUMENTS)}"
            )
    return {key: value for key, value in kwargs.items() if key in named}


def _file_builder(
    path: Path, unsafe: bool, input_shape: tuple[int, ...]
) -> Callable[[], keras.Model]:
    where = f"model.file = '{path}'"
    if path.suffix != ".keras":
        raise ModelError(
            f"{where} is not a .keras file; only the Keras 3 format is "
            "supported (re-save the model with model.save('name.keras'))"
        )
    if not path.is_file():
        raise ModelError(f"{where} does not exist (looked in {Path.cwd()})")
    try:
        loaded = keras.saving.load_model(
            path, compile=False, safe_mode=not unsafe
        )
    except Exception as err:  # Keras raises many types for bad files
        if not unsafe and "safe_mode" in str(err):
            raise ModelError(
                f"{where} holds Python code (e.g. a Lambda layer) that safe "
                "mode refuses to load; only if you trust the file, set "
                "unsafe = true in [model]"
            ) from err
        raise ModelError(
            f"{where} cannot be loaded: {type(err).__name__}: "
            f"{error_line(err)}"
        ) from err
    _check_file_input(loaded, input_shape, where)
    # Rebuild from the config, not clone_model: that would re-run Lambda
    # deserialisation in safe mode, refusing files loaded with unsafe = true.
    config = keras.saving.serialize_keras_object(loaded)
    logger.info("loaded %s: model %r, %d layers", where, loaded.name,
                len(loaded.layers))
    return functools.partial(_rebuild, config, unsafe)


def _rebuild(config: dict[str, Any], unsafe: bool) -> keras.Model:
    """A new model from a serialised config, with freshly initialised weights."""
    # Deserialising may replace parts of the config in place: use a copy.
    return keras.saving.deserialize_keras_object(
        copy.deepcopy(config), safe_mode=not unsafe
    )


def _check_file_input(
    model: keras.Model, input_shape: tuple[int, ...] | dict, where: str
) -> None:
    """Fails early on a one-input file whose input cannot take the data.

    Several inputs are checked by name with the data (`preflight`).
    """
    inputs = getattr(model, "inputs", None) or []
    if isinstance(input_shape, dict) and len(inputs) > 1:
        return
    if len(inputs) != 1:
        raise ModelError(
            f"{where}: the model has {len(inputs)} inputs; the data has "
            f"{len(input_shape) if isinstance(input_shape, dict) else 1}"
        )
    if isinstance(input_shape, dict):
        (input_shape,) = input_shape.values()
    expected = tuple(inputs[0].shape[1:])
    if len(expected) != len(input_shape) or any(
        want is not None and want != got
        for want, got in zip(expected, input_shape)
    ):
        raise ModelError(
            f"{where}: the model expects inputs of shape {expected}, but the "
            f"data's inputs have shape {input_shape}"
        )


def _check_image(name: str, input_shape: tuple[int, ...]) -> None:
    if len(input_shape) != 3:
        raise ModelError(
            f"built-in model {name!r} needs image inputs (height, width, "
            f"channels); got input shape {tuple(input_shape)}; use 'mlp' for "
            "other inputs"
        )

