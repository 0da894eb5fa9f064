"""Per-position heads, their resizing, losses and metrics."""

import keras
import numpy as np
import pytest

from auxsearch.trial.dense import (
    MaskAccuracy,
    MaskBinaryCrossentropy,
    MaskMeanIoU,
    ResizeLike,
    attach_dense_head,
    per_example_scores,
)
from tests.conftest import encoder_decoder


def test_resize_like_takes_the_positions_of_its_reference():
    x = keras.ops.convert_to_tensor(np.arange(8, dtype="float32").reshape(1, 2, 2, 2))
    like = keras.ops.zeros((1, 8, 8, 3))
    resized = keras.ops.convert_to_numpy(ResizeLike()([x, like]))
    assert resized.shape == (1, 8, 8, 2)
    assert resized.min() >= 0 and resized.max() <= 7  # bilinear: no overshoot
    steps = ResizeLike()([keras.ops.ones((2, 3, 5)), keras.ops.zeros((2, 12, 4))])
    assert tuple(steps.shape) == (2, 12, 5)


@pytest.mark.parametrize("layer", ["enc2", "dec1"])
def test_a_head_on_a_quarter_resolution_tap_predicts_at_the_labels_resolution(layer):
    model = encoder_decoder()
    head = attach_dense_head(model.get_layer(layer).output, model.output, 3, "aux", "softmax",
                             units=4)
    assert tuple(head.shape) == (None, 16, 16, 3)
    trial = keras.Model(model.inputs, {"main": model.output, "aux": head})
    assert {"aux_hidden", "aux_logits", "aux_resize", "aux"} <= {
        lay.name for lay in trial.layers}
    probabilities = keras.ops.convert_to_numpy(trial(np.ones((2, 16, 16, 1)))["aux"])
    assert np.allclose(probabilities.sum(axis=-1), 1, atol=1e-5)


def test_a_head_at_the_outputs_resolution_is_not_resized():
    model = encoder_decoder()
    head = attach_dense_head(model.get_layer("enc1").output, model.output, 3, "aux")
    assert "aux_resize" not in {op.name for op in keras.Model(model.inputs, head).layers}


def test_a_model_of_unknown_size_resizes_at_run_time_and_saves(tmp_path):
    inputs = keras.Input((None, None, 1))
    tap = keras.layers.Conv2D(2, 3, strides=2, padding="same", name="tap")(inputs)
    out = keras.layers.Conv2D(2, 1, activation="softmax", name="out")(
        keras.layers.UpSampling2D()(tap))
    head = attach_dense_head(tap, out, 2, "aux")
    model = keras.Model(inputs, [out, head])
    main, aux = model(np.ones((1, 12, 10, 1), "float32"))
    assert tuple(aux.shape) == tuple(main.shape) == (1, 12, 10, 2)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert tuple(loaded(np.ones((1, 6, 8, 1), "float32"))[1].shape) == (1, 6, 8, 2)


def test_the_metrics_leave_ignored_positions_out():
    y = np.array([[[0, 1], [2, 255]]])  # one image 2x2, one ignored position
    scores = np.eye(3)[[[0, 1], [1, 0]]][None][0][None]  # predicts 0, 1, 1, 0
    iou = MaskMeanIoU(3, ignore_label=255)
    iou.update_state(y, scores)
    # class 0: 1/1, class 1: 1/2, class 2: 0/1 -> 0.5
    assert float(iou.result()) == pytest.approx(0.5)
    reference = keras.metrics.MeanIoU(3, ignore_class=255, sparse_y_pred=False)
    reference.update_state(y, scores)
    assert float(iou.result()) == pytest.approx(float(reference.result()))
    accuracy = MaskAccuracy(ignore_label=255)
    accuracy.update_state(y, scores)
    assert float(accuracy.result()) == pytest.approx(2 / 3)


def test_one_sigmoid_per_position_is_thresholded_into_two_classes():
    y = np.array([[1, 0, 1, 255]])
    logits = np.array([[[2.0], [-1.0], [-0.5], [3.0]]])
    iou = MaskMeanIoU(2, threshold=0.0, ignore_label=255)
    iou.update_state(y, logits)
    assert float(iou.result()) == pytest.approx((1 / 2 + 1 / 2) / 2)
    loss = MaskBinaryCrossentropy(255, from_logits=True)
    whole = keras.losses.BinaryCrossentropy(from_logits=True)
    assert float(loss(y, logits)) == pytest.approx(
        float(whole(y[:, :3, None], logits[:, :3])) * 3 / 4, rel=1e-5)


def test_each_example_scores_its_own_mean_iou():
    y = np.array([[0, 0, 1, 1], [2, 2, 2, 255], [255, 255, 255, 255]])
    predicted = np.eye(3)[[[0, 1, 1, 1], [2, 2, 0, 1], [0, 0, 0, 0]]]
    iou = per_example_scores(y, predicted, "mean_iou", False, ignore_label=255)
    # image 0: class 0 1/2, class 1 2/3; image 1: class 2 2/3, class 0 0/1
    assert iou[:2] == pytest.approx([(1 / 2 + 2 / 3) / 2, (2 / 3 + 0) / 2])
    assert np.isnan(iou[2])  # every position ignored: no score
    accuracy = per_example_scores(y, predicted, "accuracy", False, ignore_label=255)
    assert accuracy[:2] == pytest.approx([3 / 4, 2 / 3])
