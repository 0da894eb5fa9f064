"""copy_hypermodel: a copy whose `build` builds with the copy, not the original."""

from __future__ import annotations

import copy

import keras_tuner as kt

from auxsearch.kt.hypermodel import copy_hypermodel


class _Echo(kt.HyperModel):
    def build(self, hp):
        return self  # which instance built


def test_the_copy_builds_with_itself():
    original = _Echo()
    assert copy.copy(original).build(kt.HyperParameters()) is original  # Keras Tuner's binding
    twin = copy_hypermodel(original)
    assert twin is not original
    assert twin.build(kt.HyperParameters()) is twin
    assert original.build(kt.HyperParameters()) is original
