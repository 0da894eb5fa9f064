"""Oracles that keep their state in memory: searches simulated without training.

A replay benchmark drives Keras Tuner's own oracles through their public
calls (`create_trial`, `update_trial`, `end_trial`) thousands of times per
replay. Two things Keras Tuner does on every call would cost more than
everything else: writing each trial's state file, and copying its
hyperparameters through Keras' generic (de)serialisation (`inspect` on
every class, for every hyperparameter of every trial: about 2 ms a trial
with a dozen of them). `in_memory` gives an oracle class that writes no
files, prints nothing, and copies its hyperparameters directly. The
oracle's logic is Keras Tuner's own, unchanged: the same values are drawn
for the same seed (`tests/kt/test_memory.py`).
"""

from __future__ import annotations

from typing import Any

import keras_tuner as kt

__all__ = ["hyperband_iteration", "in_memory"]

_CACHE: dict[type, type] = {}
_FAST: dict[type, type] = {}
_TWINS: set[type] = set()
_TWIN = "_twin"  # a twin's config: the twin itself


class _HyperParameters(kt.HyperParameters):
    """`HyperParameters` copied directly, not by a round trip through configs.

    The copy has its own containers and values; the hyperparameters in them
    are shared (Keras Tuner never changes one once declared).
    """

    def copy(self) -> _HyperParameters:
        twin = _HyperParameters()
        for name, hps in self._hps.items():
            twin._hps[name] = list(hps)
        twin._space = list(self._space)
        twin.values = dict(self.values)
        return twin


def _fast(hp: Any) -> Any:
    """A twin of a hyperparameter whose copies are made directly (same class name).

    Keras Tuner copies a hyperparameter as `cls.from_config(hp.get_config())`
    to register it in another container; a twin's config names the twin,
    which is shared instead (no hyperparameter changes once declared).
    """
    base = type(hp)
    if base in _TWINS:  # Keras Tuner hands a trial's (twin) hyperparameters back
        return hp
    if base not in _FAST:

        def get_config(self: Any) -> dict[str, Any]:
            if "_config" not in self.__dict__:
                self.__dict__["_config"] = base.get_config(self)
            config = self.__dict__["_config"]
            return {**config, "conditions": list(config["conditions"]), _TWIN: self}

        def from_config(cls: type, config: dict[str, Any]) -> Any:
            if _TWIN in config:
                return config[_TWIN]
            return base.from_config.__func__(cls, config)

        _FAST[base] = type(base.__name__, (base,), {
            "get_config": get_config, "from_config": classmethod(from_config),
            "__module__": base.__module__})
        _TWINS.add(_FAST[base])
    config = hp.get_config()
    return _FAST[base].from_config({k: v for k, v in config.items() if k != _TWIN})


def in_memory(oracle_class: type[kt.Oracle]) -> type[kt.Oracle]:
    """Returns a subclass of `oracle_class` that writes no files and prints nothing.

    Args:
        oracle_class: A Keras Tuner oracle class, e.g.
            `keras_tuner.oracles.HyperbandOracle`.
    """
    if oracle_class not in _CACHE:

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            oracle_class.__init__(self, *args, **kwargs)
            self._display.verbose = 0
            self.hyperparameters = _HyperParameters()

        def update_space(self: Any, hyperparameters: kt.HyperParameters) -> None:
            twins = _HyperParameters()
            for hp in hyperparameters.space:
                twins._hps[hp.name].append(_fast(hp))
                twins._space.append(twins._hps[hp.name][-1])
            twins.values = dict(hyperparameters.values)
            oracle_class.update_space(self, twins)

        _CACHE[oracle_class] = type(f"InMemory{oracle_class.__name__}", (oracle_class,), {
            "__init__": __init__,
            "update_space": update_space,
            "save": lambda self: None,
            "_save_trial": lambda self, trial: None,
            "__doc__": f"`{oracle_class.__name__}`, with its state in memory only.",
        })
    return _CACHE[oracle_class]


def hyperband_iteration(oracle: kt.oracles.HyperbandOracle) -> int:
    """The iteration of its brackets a Hyperband oracle is in, from 0.

    Its last trial belongs to it: a replay reads a search of several
    iterations as the first one, two, ... of them.
    """
    return oracle._current_iteration
