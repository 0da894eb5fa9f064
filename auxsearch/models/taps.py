"""Tap discovery: which intermediate layers of a model can carry a loss.

A *tap* is a layer whose output tensor an auxiliary loss can read. Taps are
read from the model's graph (``layer.output``), never by calling a layer a
second time, so a tapped layer is computed once per forward pass. A layer
inside a nested model is addressed as ``outer/inner``; its output is reached
by having the nested model return it as an extra output (`tap_tensors`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

import keras

from auxsearch.core.errors import ModelError, TapError
from auxsearch.core.suggest import close_matches
from auxsearch.core.tasks import Task

# Ranks for which a head exists: (batch, features) up to (batch, d, h, w, c).
TAPPABLE_RANKS = (2, 3, 4, 5)
_OUTPUT = "it is the model's output"


@dataclass(frozen=True)
class Tap:
    """A candidate layer for an auxiliary loss.

    Attributes:
        name: The layer's name, as `model.get_layer(name)` finds it; inside a
            nested model, `outer/inner`.
        shape: The layer's output shape, batch dimension first (`None`).
        position: The layer's index in `model.layers`, then its index in the
            nested model's layers, and so on.
    """

    name: str
    shape: tuple[int | None, ...]
    position: tuple[int, ...]

    @property
    def index(self) -> str:
        """The position as text: `4`, or `2.1` inside a nested model."""
        return ".".join(map(str, self.position))


def map_rank(model: keras.Model, task: Task) -> int | None:
    """The rank a tap must have for a per-position task: its output's; else `None`."""
    return len(model.outputs[0].shape) if task.positions else None


def find_taps(model: keras.Model, rank: int | None = None) -> list[Tap]:
    """Lists the layers of a built model that can be tapped.

    Inputs, the model's output layers, layers called more than once and
    layers whose output is not a single floating-point tensor of rank 2 to 5
    are left out. The layers of nested models are listed after the nested
    model, as `outer/inner`.

    Args:
        model: A functional or Sequential Keras model with defined inputs.
        rank: For a per-position task (`map_rank`), the rank of the main
            output: a layer must keep its positions, `(b, h, w, c)` for
            `(b, H, W, K)` or `(b, t, c)` for `(b, T, K)`, to be tapped (a
            pooled or flattened one is left out). `None`: any rank 2 to 5.

    Returns:
        The candidate taps, in the order of `model.layers`.

    Raises:
        ModelError: If the model has no defined inputs and outputs.
    """
    return _scan(model, rank=rank)[0]


def select_taps(model: keras.Model, patterns: Iterable[str] | None,
                rank: int | None = None) -> list[Tap]:
    """Chooses candidate taps by exact names or glob patterns.

    Args:
        model: The model whose layers are searched.
        patterns: Layer names or `fnmatch` patterns (`"conv*"`). `None` selects
            every candidate.
        rank: The rank a tap must have (see `find_taps`), or `None`.

    Returns:
        The selected taps, each once, in the order of `model.layers`.

    Raises:
        TapError: If a name is not a candidate (the message says why, and lists
            the closest candidates) or a pattern matches no candidate.
    """
    candidates, excluded = _scan(model, rank=rank)
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
            close = close_matches(pattern, by_name, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise TapError(
                f"no layer named {pattern!r} in model {model.name!r}; "
                f"{hint}candidates are: {_listing(by_name)}"
            )
    return [tap for tap in candidates if tap.name in chosen]


def _scan(
    model: keras.Model, prefix: str = "", path: tuple[int, ...] = (), rank: int | None = None
) -> tuple[list[Tap], dict[str, str]]:
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
    calls = _calls(model)
    taps: list[Tap] = []
    excluded: dict[str, str] = {}
    for position, layer in enumerate(model.layers):
        name = prefix + layer.name
        reason = _why_not_tappable(layer, calls.get(id(layer), []), output_ids, rank)
        if reason:
            excluded[name] = reason
        else:
            output = calls[id(layer)][0][0]
            taps.append(Tap(name, tuple(output.shape), path + (position,)))
        if _is_nested(layer):
            inner, inner_excluded = _scan(layer, f"{name}/", path + (position,), rank)
            for inner_name, why in inner_excluded.items():
                if why == _OUTPUT:  # the nested model's output, not this model's
                    instead = f"; tap {name!r} itself" if not reason else ""
                    inner_excluded[inner_name] = (
                        f"it is the output of the nested model {name!r}{instead}")
            if reason:  # e.g. a nested model called twice: so is every layer in it
                inner_excluded.update({tap.name: reason for tap in inner})
                inner = []
            taps += inner
            excluded.update(inner_excluded)
    return taps, excluded


def tap_tensors(
    model: keras.Model, taps: Iterable[Tap]
) -> tuple[list[keras.KerasTensor], keras.KerasTensor, dict[str, keras.KerasTensor]]:
    """Returns the model's inputs, its output and the taps' outputs, one graph.

    Top-level taps read `layer.output`. For taps inside nested models the
    graph is rebuilt with the same layers (no weights are copied), each
    nested model returning the tapped tensors as extra outputs, so that
    every layer still runs once per forward pass.

    Args:
        model: The model the taps were found in.
        taps: Taps of `model`, from `find_taps` or `select_taps`.

    Returns:
        `(inputs, output, tensors)`, `tensors` mapping tap names to outputs.
    """
    taps = list(taps)
    if all(len(tap.position) == 1 for tap in taps):
        calls = _calls(model)
        return list(model.inputs), model.outputs[0], {
            tap.name: calls[id(model.layers[tap.position[0]])][0][0] for tap in taps
        }
    inside: dict[int, list[Tap]] = {}  # outer position -> taps relative to it
    for tap in taps:
        if len(tap.position) > 1:
            outer = model.layers[tap.position[0]].name
            inside.setdefault(tap.position[0], []).append(
                Tap(tap.name[len(outer) + 1:], tap.shape, tap.position[1:]))
    positions = {id(layer): i for i, layer in enumerate(model.layers)}
    produced: dict[int, keras.KerasTensor] = {}
    tensors: dict[str, keras.KerasTensor] = {}

    def call(layer: keras.Layer, *args, **kwargs) -> keras.KerasTensor:
        position = positions.get(id(layer))
        if position not in inside:
            output = layer(*args, **kwargs)
        else:
            inputs, output, extra = tap_tensors(layer, inside[position])
            # The same layers, with the tapped tensors as extra outputs; named
            # like the nested model, so an exported model reads the same.
            exposed = keras.Model(inputs, [output, *extra.values()], name=layer.name)
            output, *values = exposed(*args, **kwargs)
            tensors.update({f"{layer.name}/{name}": value
                            for name, value in zip(extra, values)})
        produced[position] = output
        return output

    functional = keras.Model(model.inputs, model.outputs)  # a Sequential, too
    clone = keras.models.clone_model(
        functional, clone_function=lambda layer: layer, call_function=call)
    for tap in taps:
        if len(tap.position) == 1:
            tensors[tap.name] = produced[tap.position[0]]
    return list(clone.inputs), clone.outputs[0], {tap.name: tensors[tap.name] for tap in taps}


def _is_nested(layer: keras.Layer) -> bool:
    """Whether a layer is a model with a graph of layers (not subclassed)."""
    if not isinstance(layer, keras.Model):
        return False
    try:
        return bool(layer.inputs) and bool(layer.outputs)
    except (AttributeError, ValueError):
        return False


def _calls(model: keras.Model) -> dict[int, list[list[keras.KerasTensor]]]:
    """Returns the outputs of each call of each layer in the model's graph.

    A layer's `output` can be ambiguous (a saved Sequential's layers, for
    one, are called once more when it is rebuilt); the model's own graph
    says which call is its.
    """
    graph = getattr(model, "_functional", None) or model  # a Sequential's graph
    calls: dict[int, list[list[keras.KerasTensor]]] = {}
    for nodes in graph._nodes_by_depth.values():
        for node in nodes:
            calls.setdefault(id(node.operation), []).append(list(node.outputs))
    return calls


def _why_not_tappable(
    layer: keras.Layer, calls: list[list[keras.KerasTensor]], output_ids: set[int],
    rank: int | None = None,
) -> str | None:
    if isinstance(layer, keras.layers.InputLayer):
        return "it is an input"
    if len(calls) > 1:
        return "it is called more than once, so its output is ambiguous"
    if len(calls) != 1 or len(calls[0]) != 1:
        return "its output is not a single tensor"
    output = calls[0][0]
    if id(output) in output_ids:
        return _OUTPUT
    if not keras.backend.is_float_dtype(output.dtype):
        return f"its output has dtype {output.dtype}, not floating point"
    if len(output.shape) not in TAPPABLE_RANKS:
        return f"its output has rank {len(output.shape)}; rank 2 to 5 is needed"
    if rank is not None and len(output.shape) != rank:
        kept = "(batch, h, w, channels)" if rank == 4 else "(batch, steps, channels)"
        return (f"its output {tuple(output.shape)} has no {'spatial' if rank == 4 else 'time'} "
                f"axes left for a per-position head (pooled or flattened); a tap of this "
                f"model must keep them, {kept}")
    return None


def _listing(names: Iterable[str]) -> str:
    return ", ".join(names) or "(none)"
