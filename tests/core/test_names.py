"""Names: one place writes them, the same place reads them back."""

from auxsearch.core import names


def test_hyperparameter_names_round_trip():
    for field in names.HP_FIELDS:
        assert names.split_hp(names.hp_name(field, "block/conv1")) == (field, "block/conv1")
    assert names.split_hp("tuner/epochs") is None and names.split_hp("lr") is None


def test_keras_tuner_values_are_reserved():
    values = {"tap/a": True, "tuner/epochs": 3, "tuner/trial_id": "0001"}
    assert names.user_values(values) == {"tap/a": True}
    assert names.is_reserved("tuner/round") and not names.is_reserved("tap/tuner")


def test_output_names():
    assert names.output_name("conv2") == "aux_conv2"
    assert names.output_name("block/conv-1") == "aux_block_conv_1"
    assert names.output_name("conv2", "head", 32) == "aux_conv2_h32"
    assert names.output_name("conv2", "penalty") == "penalty_conv2"
    assert names.output_name("conv2", "hint", 8) == "hint_conv2"
    assert all(f"val_{names.output_name('x', kind)}_loss".startswith(names.PER_OUTPUT_METRICS)
               for kind in names.OUTPUT_PREFIXES)


def test_objective_names():
    assert names.objective_name("accuracy") == "val_main_accuracy"
    assert names.objective_metric("val_main_mae") == "mae"


def test_csv_cells_read_back_with_their_types():
    assert names.HP_TYPES[names.TAP]("True") is True and names.HP_TYPES[names.TAP]("d2") == "d2"
    assert names.HP_TYPES[names.UNITS]("16.0") == 16
    assert names.HP_TYPES[names.WEIGHT]("0.25") == 0.25
