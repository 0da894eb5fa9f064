"""Tap discovery: which intermediate layers of a model can carry a loss.

A *tap* is a layer whose output tensor an auxiliary loss can read. Taps are
read from the model's graph (``layer.output``), never by calling a layer a
second time, so a tapped layer is computed once per forward pass.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Iterable

import keras

from auxsearch.errors import ModelError, TapError

# Ranks for which a head exists: (batch, features) up to (batch, d, h, w, c).
TAPPABLE_RANKS = (2, 3, 4, 5)


@dataclass(frozen=True)
class Tap:
    """A candidate layer for an auxiliary loss.

    Attributes:
        name: The layer's name, as `model.get_layer(name)` finds it.
        shape: The layer's output shape, batch dimension first (`None`).
        position: The layer's index in `model.layers`.
    """

    name: str
    shape: tuple[int | None, ...]
    position: int


def find_taps(model: keras.Model) -> list[Tap]:
    """Lists the layers of a built model that can be tapped.

    Inputs, the model's output layers, layers called more than once and
    layers whose output is not a single floating-point tensor of rank 2 to 5
    are left out.

    Args:
        model: A functional or Sequential Keras model with defined inputs.

    Returns:
        The candidate taps, in the order of `model.layers`.

    Raises:
        ModelError: If the model has no defined inputs and outputs.
    """
    return _scan(model)[0]


def select_taps(model: keras.Model, patterns: Iterable[str] | None) -> list[Tap]:
    """Chooses candidate taps by exact names or glob patterns.

    Args:
        model: The model whose layers are searched.
        patterns: Layer names or `fnmatch` patterns (`"conv*"`). `None` selects
            every candidate.

    Returns:
        The selected taps, each once, in the order of `model.layers`.

    Raises:
        TapError: If a name is not a candidate (the message says why, and lists
            the closest candidates) or a pattern matches no candidate.
    """
    candidates, excluded = _scan(model)
    if patterns is None:
        return candidates
    by_name = {tap.name: tap for tap in candidates}
    chosen: set[str] = set()
    for pattern in patterns:
        if any(char in pattern for char in "*?["):
            matched = fnmatch.filter(by_name, pattern)
            if not matched:
                raise TapError(
                    f"tap pattern {pattern!r} matches no candidate layer; "
                    f"candidates are: {_listing(by_name)}"
                )
            chosen.update(matched)
        elif pattern in by_name:
            chosen.add(pattern)
        elif pattern in excluded:
            raise TapError(
                f"layer {pattern!r} cannot be tapped: {excluded[pattern]}"
            )
        else:
            close = difflib.get_close_matches(pattern, by_name, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise TapError(
                f"no layer named {pattern!r} in model {model.name!r}; "
                f"{hint}candidates are: {_listing(by_name)}"
            )
    return [tap for tap in candidates if tap.name in chosen]


def _scan(model: keras.Model) -> tuple[list[Tap], dict[str, str]]:
    """Splits the model's layers into candidates and excluded ones (why)."""
    try:
        outputs = keras.tree.flatten(model.outputs)
    except (AttributeError, ValueError) as err:
        raise ModelError(
            f"model {model.name!r} has no defined inputs and outputs; build it "
            "with keras.Input (functional) or start a Sequential model with "
            "keras.Input(shape=...)"
        ) from err
    output_ids = {id(tensor) for tensor in outputs}
    taps: list[Tap] = []
    excluded: dict[str, str] = {}
    for position, layer in enumerate(model.layers):
        reason = _why_not_tappable(layer, output_ids)
        if reason:
            excluded[layer.name] = reason
        else:
            taps.append(Tap(layer.name, tuple(layer.output.shape), position))
    return taps, excluded


def _why_not_tappable(layer: keras.Layer, output_ids: set[int]) -> str | None:
    if isinstance(layer, keras.layers.InputLayer):
        return "it is an input"
    if len(layer._inbound_nodes) > 1:
        return "it is called more than once, so its output is ambiguous"
    output = layer.output
    if not isinstance(output, keras.KerasTensor):
        return "its output is not a single tensor"
    if id(output) in output_ids:
        return "it is the model's output"
    if not keras.backend.is_float_dtype(output.dtype):
        return f"its output has dtype {output.dtype}, not floating point"
    if len(output.shape) not in TAPPABLE_RANKS:
        return f"its output has rank {len(output.shape)}; rank 2 to 5 is needed"
    return None


def _listing(names: Iterable[str]) -> str:
    return ", ".join(names) or "(none)"
