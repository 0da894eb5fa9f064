"""The tap space, without Keras: declared, decoded, keyed and counted."""

import keras_tuner as kt
import pytest

from auxsearch.core import names
from auxsearch.core.errors import SpaceError, TapError
from auxsearch.core.tapspace import AuxLoss, TapSpace, active_taps, format_taps


def _declared(space):
    hp = kt.HyperParameters()
    space.declare(hp)
    return hp


def test_a_switch_per_candidate_and_conditional_weights():
    hp = _declared(TapSpace(["d1", "d2"], weight_range=(0.05, 0.5)))
    assert [p.name for p in hp.space] == ["tap/d1", "weight/d1", "tap/d2", "weight/d2"]
    weight = hp.space[1]
    assert (weight.min_value, weight.max_value, weight.sampling) == (0.05, 0.5, "log")
    assert hp.values == {"tap/d1": False, "tap/d2": False}  # the baseline


def test_kinds_schedules_and_widths_are_declared_per_tap():
    space = TapSpace(["d2"], kinds=["head", "penalty"], schedules=["constant", "off_after"],
                     head_units=[0, 16])
    hp = _declared(space)
    assert [p.name for p in hp.space] == [
        "tap/d2", "weight/d2", "kind/d2", "units/d2", "schedule/d2"]
    hp.values.update({"tap/d2": True, "weight/d2": 0.3, "kind/d2": "head",
                      "units/d2": 16, "schedule/d2": "off_after"})
    assert space.declare(hp) == {"d2": AuxLoss("d2", 0.3, "head", "off_after", 16)}
    assert space.variants() == [("d2", "head", 0), ("d2", "head", 16), ("d2", "penalty", 0)]


def test_a_single_kind_other_than_head_is_fixed():
    hp = _declared(TapSpace(["d1"], kinds=["penalty"]))
    assert [(p.name, type(p).__name__) for p in hp.space] == [
        ("tap/d1", "Boolean"), ("weight/d1", "Float"), ("kind/d1", "Fixed")]


def test_hints_only_where_there_are_targets():
    space = TapSpace(["d1", "d2"], kinds=["head", "hint"], hint_layers=["d1"])
    hp = _declared(space)
    assert "kind/d1" in [p.name for p in hp.space] and "kind/d2" not in [p.name for p in hp.space]
    assert space.key({"tap/d2": True, "weight/d2": 0.1, "kind/d2": "hint"}) is None
    with pytest.raises(TapError, match="'d9', which is not a candidate"):
        TapSpace(["d1"], kinds=["hint"], hint_layers=["d9"])
    with pytest.raises(TapError, match="needs hint targets"):
        TapSpace(["d1"], kinds=["hint"])
    with pytest.raises(TapError, match="'hint' is not among the tap kinds"):
        TapSpace(["d1"], hint_layers=["d1"])


def test_active_taps_reads_trial_values():
    values = {"tap/a": True, "weight/a": 0.2, "tap/b": False, "tuner/epochs": 3}
    assert active_taps(values) == {"a": AuxLoss("a", 0.2)}
    slots = {"tap/slot1": "b", "weight/slot1": 0.1, "kind/slot1": "penalty",
             "tap/slot2": "none", "tap/slot3": "b", "weight/slot3": 0.5}
    assert active_taps(slots) == {"b": AuxLoss("b", 0.1, kind="penalty")}


def test_slots_are_a_set_and_never_tap_a_layer_twice():
    space = TapSpace(["d1", "d2", "d3"], max_taps=2, kinds=["head", "penalty"])
    hp = _declared(space)
    assert [p.name for p in hp.space][:3] == ["tap/slot1", "weight/slot1", "kind/slot1"]
    assert hp.space[0].values == ["none", "d1", "d2", "d3"]
    twice = {"tap/slot1": "d2", "weight/slot1": 0.1, "kind/slot1": "head",
             "tap/slot2": "d2", "weight/slot2": 0.2, "kind/slot2": "head"}
    assert space.key(twice) is None
    one = {"tap/slot1": "d1", "weight/slot1": 0.1, "kind/slot1": "head", "tap/slot2": "d3",
           "weight/slot2": 0.2, "kind/slot2": "penalty"}
    swapped = {"tap/slot1": "d3", "weight/slot1": 0.2, "kind/slot1": "penalty",
               "tap/slot2": "d1", "weight/slot2": 0.1, "kind/slot2": "head"}
    assert space.key(one) == space.key(swapped) is not None


@pytest.mark.parametrize("space, count", [
    (TapSpace(["a", "b", "c"]), 8),  # any subset
    (TapSpace(["a", "b"], kinds=["head", "penalty"], head_units=[0, 8],
              schedules=["constant", "off_after"]), (1 + 3 * 2) ** 2),
    (TapSpace(["a", "b", "c"], max_taps=1), 4),  # none, or one of three
    (TapSpace(["a", "b", "c"], max_taps=2), 1 + 3 + 3),
])
def test_count(space, count):
    assert space.count() == count


def test_formatted_taps_name_what_differs_from_a_plain_head():
    taps = {"conv2": AuxLoss("conv2", 0.31),
            "conv5": AuxLoss("conv5", 0.05, "head", "off_after", 32),
            "b/x": AuxLoss("b/x", 0.5, "penalty")}
    assert format_taps(taps) == "conv2:0.31;conv5:0.05:h32:off_after;b/x:0.5:penalty"
    assert format_taps({}) == ""
    assert AuxLoss("b/x", 0.5, "penalty").output == "penalty_b_x"


@pytest.mark.parametrize("kwargs, message", [
    ({"weight_range": (0.0, 1.0)}, r"weight_range must be 0 < low <= high .*; got \[0.0, 1.0\]"),
    ({"kinds": ["heads"]},
     (r"kinds must be a non-empty list of head, penalty, hint; "
      r"got \['heads'\] \(did you mean 'head'\?\)")),
    ({"schedules": []}, "schedules must be a non-empty list"),
    ({"head_units": [-1]}, r"head_units must be widths >= 0"),
    ({"max_taps": -1}, r"max_taps must be >= 0"),
])
def test_settings_break_their_rules(kwargs, message):
    with pytest.raises(SpaceError, match=message):
        TapSpace(["a"], **kwargs)


def test_aux_loss_output_names_and_text():
    assert AuxLoss("b/c-1", 0.5).output == "aux_b_c_1"
    assert AuxLoss("c", 0.5, units=32).output == "aux_c_h32"
    assert AuxLoss("c", 0.5, "penalty").output == names.output_name("c", "penalty") == "penalty_c"
    assert str(AuxLoss("c", 0.123, "hint", "off_after")) == "c:0.12:hint:off_after"


def test_a_weight_grid_is_a_choice_and_lists_every_configuration():
    space = TapSpace(["d1", "d2", "d3"], weight_grid=(0.03, 0.3))
    hp = _declared(space)
    assert [(p.name, type(p).__name__) for p in hp.space][:2] == [
        ("tap/d1", "Boolean"), ("weight/d1", "Choice")]
    configs = space.configurations()
    assert len(configs) == 3 ** 3  # off, or on with one of two weights, per layer
    assert configs[0] == {"tap/d1": False, "tap/d2": False, "tap/d3": False}
    assert len({space.key(c) for c in configs}) == len(configs)
    assert [len(active_taps(c)) for c in configs] == sorted(len(active_taps(c)) for c in configs)


def test_slots_list_sets_of_at_most_k_layers_with_their_settings():
    space = TapSpace(["d1", "d2", "d3"], kinds=["head", "penalty"], max_taps=2,
                     weight_grid=(0.1,))
    configs = space.configurations()
    # 1 + 3 layers x 2 kinds + 3 pairs x 2 x 2
    assert len(configs) == 1 + 6 + 12
    assert configs[0] == {"tap/slot1": "none", "tap/slot2": "none"}
    assert {"tap/slot1": "d1", "weight/slot1": 0.1, "kind/slot1": "penalty",
            "tap/slot2": "d3", "weight/slot2": 0.1, "kind/slot2": "head"} in configs
    assert len({space.key(c) for c in configs}) == len(configs)


def test_values_of_a_configuration_read_back_as_its_taps():
    space = TapSpace(["d1", "d2"], schedules=["constant", "off_after"], head_units=[0, 8])
    losses = [AuxLoss("d2", 0.2, "head", "off_after", 8)]
    values = space.values_of(losses)
    assert values == {"tap/d1": False, "tap/d2": True, "weight/d2": 0.2, "units/d2": 8,
                      "schedule/d2": "off_after"}
    assert list(active_taps(values).values()) == losses


def test_only_a_grid_lists_its_configurations():
    with pytest.raises(ValueError, match="weight_grid"):
        TapSpace(["d1"]).configurations()
