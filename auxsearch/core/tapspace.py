"""The tap space: which auxiliary losses a configuration can have.

It declares the search's hyperparameters on a Keras Tuner `HyperParameters`
object, decodes a trial's values into `AuxLoss`es, says which values are the
same configuration, counts the configurations and lists every auxiliary
output that some configuration can use. It imports no Keras: it only names
things (see `names`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from auxsearch.core import names
from auxsearch.core.errors import TapError
from auxsearch.core.rules import check

# An output some configuration can use: (layer, kind, hidden units).
Variant = tuple[str, str, int]


@dataclass(frozen=True)
class AuxLoss:
    """One auxiliary loss of a configuration: where, what, how strong.

    Attributes:
        layer: The tapped layer's name (`outer/inner` inside a nested model).
        weight: The loss weight at full strength.
        kind: "head", "penalty" or "hint".
        schedule: How the weight changes over the epochs (see `schedules`).
        units: A head's hidden width; 0 for none.
    """

    layer: str
    weight: float
    kind: str = "head"
    schedule: str = "constant"
    units: int = 0

    @property
    def output(self) -> str:
        """The name of the model output that carries this loss."""
        return names.output_name(self.layer, self.kind, self.units)

    @property
    def variant(self) -> Variant:
        """The output this loss needs: `(layer, kind, units)`."""
        return self.layer, self.kind, self.units

    def __str__(self) -> str:
        # `conv2:0.31`, with what differs from a plain constant head after it:
        # `conv2:0.31:penalty:linear_decay`, `conv5:0.05:h32`.
        parts = [self.layer, f"{self.weight:.2g}"]
        if self.kind != "head":
            parts.append(self.kind)
        if self.units:
            parts.append(f"h{self.units}")
        if self.schedule != "constant":
            parts.append(self.schedule)
        return ":".join(parts)


class TapSpace:
    """The auxiliary losses a search chooses among, on given candidate layers.

    Each candidate gets a boolean `tap/<layer>` or, with `max_taps=k`, the
    space has k slots `tap/slot<i>` that each choose a layer or "none". While
    a tap is on, it has a log-sampled `weight/<slot>` and, where the space
    offers more than one, a `kind/<slot>`, a `schedule/<slot>` and a head's
    hidden `units/<slot>`.

    Args:
        layers: The candidate layers' names, in the model's order.
        weight_range: `(low, high)` of the weights, sampled log-uniformly.
        kinds: The tap kinds: "head", "penalty", "hint".
        schedules: The weight schedules (see `schedules`).
        head_units: The hidden widths a head may have; 0 is none.
        hint_layers: The layers that have hint targets.
        max_taps: Optional integer k (0 or `None`: a switch per candidate).
        weight_grid: Optional weights to choose among instead of sampling
            `weight_range` (a discretised space: `configurations` lists it
            whole, as a replay benchmark's table records it).

    Raises:
        SpaceError: If a setting breaks its rule (see `rules`).
        TapError: If hints are given without the "hint" kind, or for a layer
            that is not a candidate.
    """

    def __init__(
        self,
        layers: Sequence[str],
        weight_range: tuple[float, float] = (0.01, 1.0),
        kinds: Sequence[str] = ("head",),
        schedules: Sequence[str] = ("constant",),
        head_units: Sequence[int] = (0,),
        hint_layers: Sequence[str] = (),
        max_taps: int | None = None,
        weight_grid: Sequence[float] | None = None,
    ) -> None:
        check("weight_range", tuple(weight_range))
        check("kinds", tuple(kinds))
        check("schedules", tuple(schedules))
        check("head_units", tuple(head_units))
        check("max_taps", max_taps)
        self.layers = list(layers)
        self.weight_range = (float(weight_range[0]), float(weight_range[1]))
        self.kinds = tuple(dict.fromkeys(kinds))
        self.schedules = tuple(dict.fromkeys(schedules))
        self.head_units = tuple(dict.fromkeys(int(u) for u in head_units))
        self.hint_layers = tuple(hint_layers)
        self.max_taps = max_taps or None
        self.weight_grid = tuple(float(w) for w in weight_grid) if weight_grid else None
        _check_hints(self.hint_layers, self.layers, "hint" in self.kinds)

    def declare(self, hp: Any) -> dict[str, AuxLoss]:
        """Declares the tap hyperparameters on `hp`; returns the active taps.

        Args:
            hp: A `keras_tuner.HyperParameters`.

        Returns:
            The active auxiliary losses, by layer name.
        """
        low, high = self.weight_range
        chosen: dict[str, AuxLoss] = {}
        for slot in self.slots():
            switch = names.hp_name(names.TAP, slot)
            if self.max_taps:
                layer = hp.Choice(switch, [names.NO_TAP, *self.layers],
                                  default=names.NO_TAP)
                on_values, kinds = self.layers, self.kinds_for(None)
            else:
                layer = slot if hp.Boolean(switch, default=False) else names.NO_TAP
                on_values, kinds = [True], self.kinds_for(slot)
            kind_name = names.hp_name(names.KIND, slot)
            with hp.conditional_scope(switch, on_values):
                weight_name = names.hp_name(names.WEIGHT, slot)
                weight = (hp.Choice(weight_name, list(self.weight_grid)) if self.weight_grid
                          else hp.Float(weight_name, low, high, sampling="log"))
                kind = _choice(hp, kind_name, kinds, "head")
                # Units only for a head: conditional when a kind is declared.
                with (hp.conditional_scope(kind_name, ["head"])
                      if list(kinds) != ["head"] else contextlib.nullcontext()):
                    units = _choice(hp, names.hp_name(names.UNITS, slot),
                                    self.head_units, 0)
                schedule = _choice(hp, names.hp_name(names.SCHEDULE, slot),
                                   self.schedules, "constant")
            if layer != names.NO_TAP and layer not in chosen:
                chosen[layer] = AuxLoss(layer, weight, kind, schedule, units or 0)
        return chosen

    def key(self, values: dict[str, Any]) -> str | None:
        """Returns what identifies a configuration, or `None` if it is invalid.

        Slots are a set: their order does not make a new configuration. A
        configuration that taps a layer twice, or asks for a hint where
        there are no targets, is invalid.
        """
        losses = list(_losses(values))
        layers = [loss.layer for loss in losses]
        if len(set(layers)) < len(layers):
            return None
        if any(loss.kind == "hint" and loss.layer not in self.hint_layers
               for loss in losses):
            return None
        return repr(sorted(losses, key=lambda loss: loss.layer))

    def count(self) -> int:
        """Returns how many distinct tap configurations the space holds.

        A configuration is a set of taps, each with its kind, hidden width
        and schedule; the continuous weights are not counted.
        """
        options = [
            sum(len(self.head_units) if kind == "head" else 1
                for kind in self.kinds_for(layer)) * len(self.schedules)
            for layer in self.layers
        ]
        if not self.max_taps:
            return math.prod(1 + n for n in options)
        # Sets of at most k taps: the elementary symmetric sums e_0 .. e_k.
        sums = [1] + [0] * self.max_taps
        for n in options:
            for size in range(self.max_taps, 0, -1):
                sums[size] += sums[size - 1] * n
        return sum(sums)

    def configurations(self) -> list[dict[str, Any]]:
        """Lists every configuration of a discretised space, baseline first.

        Each is the dict of active values a trial of this space records (an
        inactive slot's switch only), one per distinct configuration (`key`):
        with `max_taps`, the tapped layers fill the first slots in the
        model's order.

        Raises:
            ValueError: If the space has no `weight_grid` (its weights are
                continuous).
        """
        if not self.weight_grid:
            raise ValueError("only a space with a weight_grid has a list of configurations")
        options = {layer: [(w, kind, units, schedule)
                           for kind in self.kinds_for(layer)
                           for units in (self.head_units if kind == "head" else (0,))
                           for schedule in self.schedules for w in self.weight_grid]
                   for layer in self.layers}
        if self.max_taps:
            sets = [combo for size in range(self.max_taps + 1)
                    for combo in itertools.combinations(self.layers, size)]
        else:  # every subset, fewest taps first
            sets = sorted((combo for size in range(len(self.layers) + 1)
                           for combo in itertools.combinations(self.layers, size)), key=len)
        return [self.values_of([AuxLoss(layer, w, kind, schedule, units)
                                for layer, (w, kind, units, schedule) in zip(layers, choice)])
                for layers in sets
                for choice in itertools.product(*(options[layer] for layer in layers))]

    def values_of(self, losses: Sequence[AuxLoss]) -> dict[str, Any]:
        """Returns the hyperparameter values of a configuration, as `declare` records them.

        Only active values: an inactive slot has its switch alone. With
        `max_taps`, the losses fill the first slots in the order given.

        Args:
            losses: The configuration's auxiliary losses, each on a candidate
                layer, at most one per layer (and at most `max_taps`).
        """
        slots = self.slots()
        values: dict[str, Any] = {names.hp_name(names.TAP, slot):
                                  names.NO_TAP if self.max_taps else False for slot in slots}
        for i, loss in enumerate(losses):
            slot = slots[i] if self.max_taps else loss.layer
            values[names.hp_name(names.TAP, slot)] = loss.layer if self.max_taps else True
            values[names.hp_name(names.WEIGHT, slot)] = loss.weight
            kinds = self.kinds_for(None if self.max_taps else slot)
            if len(kinds) > 1 or kinds[0] != "head":
                values[names.hp_name(names.KIND, slot)] = loss.kind
            if loss.kind == "head" and self.head_units != (0,):
                values[names.hp_name(names.UNITS, slot)] = loss.units
            if self.schedules != ("constant",):
                values[names.hp_name(names.SCHEDULE, slot)] = loss.schedule
        return values

    def variants(self) -> list[Variant]:
        """Every auxiliary output that some configuration can use."""
        variants = []
        for layer in self.layers:
            for kind in self.kinds_for(layer):
                units = self.head_units if kind == "head" else (0,)
                variants += [(layer, kind, u) for u in units]
        return variants

    def slots(self) -> list[str]:
        """The tap slots: the candidate layers, or `slot1 .. slot<k>`."""
        if self.max_taps:
            return [f"slot{i}" for i in range(1, self.max_taps + 1)]
        return list(self.layers)

    def kinds_for(self, layer: str | None) -> list[str]:
        """The kinds a tap may take: a hint only where there are targets.

        Args:
            layer: A candidate layer, or `None` for a slot (any layer).
        """
        if layer is None:
            return [k for k in self.kinds if k != "hint" or self.hint_layers]
        return [k for k in self.kinds if k != "hint" or layer in self.hint_layers]


def active_taps(values: dict[str, Any]) -> dict[str, AuxLoss]:
    """Returns the active taps of a trial's hyperparameter values.

    Args:
        values: A `HyperParameters.values` dict, as a trial records it.

    Returns:
        The active auxiliary losses by layer name (a layer once).
    """
    taps: dict[str, AuxLoss] = {}
    for loss in _losses(values):
        taps.setdefault(loss.layer, loss)
    return taps


def configuration_seed(seed: int, values: dict[str, Any]) -> int:
    """Returns the seed of one configuration, drawn from a base seed.

    Reproducible, and the same across the Hyperband rounds of one
    configuration (Keras Tuner's own `tuner/` values are left out).
    """
    config = sorted(names.user_values(values).items())
    return zlib.crc32(f"{seed}:{config}".encode()) % 2**31


def format_taps(taps: dict[str, AuxLoss]) -> str:
    """Formats active taps as `conv2:0.31;conv5:0.05:penalty` (empty: the baseline).

    Each tap is `layer:weight`, followed by what differs from a constant
    plain head: its kind, `h<units>` for a hidden layer, its schedule.
    """
    return ";".join(str(loss) for loss in taps.values())


def _losses(values: dict[str, Any]) -> Iterator[AuxLoss]:
    """Yields the active `AuxLoss` of each tap or slot, in order (repeats too)."""
    for key, value in values.items():
        parts = names.split_hp(key)
        if parts is None or parts[0] != names.TAP or value in (False, names.NO_TAP, None):
            continue
        slot = parts[1]
        yield AuxLoss(
            layer=slot if value is True else value,
            weight=values[names.hp_name(names.WEIGHT, slot)],
            kind=values.get(names.hp_name(names.KIND, slot), "head"),
            schedule=values.get(names.hp_name(names.SCHEDULE, slot), "constant"),
            units=values.get(names.hp_name(names.UNITS, slot), 0) or 0,
        )


def _choice(hp: Any, name: str, values: Sequence[Any], default: Any) -> Any:
    """A Choice among `values`; a single value other than `default` is Fixed.

    Values equal to the default declare nothing, so the default space keeps
    one weight per tap and `active_taps` reads the default when a value is
    missing.
    """
    values = list(values)
    if len(values) > 1:
        first = default if default in values else values[0]
        return hp.Choice(name, values, default=first)
    if values[0] != default:
        return hp.Fixed(name, values[0])
    return default


def _check_hints(hint_layers: Sequence[str], layers: Sequence[str], searched: bool) -> None:
    if not searched:
        if hint_layers:
            raise TapError("hint targets are given, but 'hint' is not among the tap kinds")
        return
    for layer in hint_layers:
        if layer not in layers:
            raise TapError(
                f"hint targets are given for {layer!r}, which is not a candidate "
                f"tap; candidates are: {', '.join(layers)}")
    if not hint_layers:
        raise TapError("the 'hint' kind needs hint targets ('hint/<layer>' arrays)")
