"""Every Keras backend: no TensorFlow on JAX, trace-once, models across backends.

Keras fixes its backend when it is imported, so each check runs a script in
a fresh Python process with `KERAS_BACKEND` set. A backend runs in the
Python named by `AUXSEARCH_<BACKEND>_PYTHON` (e.g. `AUXSEARCH_TENSORFLOW_PYTHON`)
if set, else in this one if it has the backend's package; without either,
its checks are skipped. CI's JAX leg runs these tests in an environment
without TensorFlow and names its outer Python for TensorFlow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY_SPACE

# Each check starts Python processes: CI's e2e step runs them, and its JAX leg (-m backends).
pytestmark = [pytest.mark.backends, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["tensorflow", "jax", "torch"]

# Installed in every process of a check (workers too) through `sitecustomize`:
# TensorFlow cannot be imported, as if it were not installed.
NO_TENSORFLOW = '''
import sys


class _NoTensorFlow:
    """Refuses to import TensorFlow, as if it were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r} (refused by the test)")
        return None


sys.meta_path.insert(0, _NoTensorFlow())
'''

# Every command a user runs, through `python -m auxsearch`, in one process.
COMMANDS = '''
import json, runpy, sys
from pathlib import Path

import numpy as np

space, out = Path(sys.argv[1]), Path(sys.argv[2])


def auxsearch(*argv):
    sys.argv = ["auxsearch", *map(str, argv)]
    try:
        runpy.run_module("auxsearch", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        if exit.code:
            raise SystemExit(f"auxsearch {' '.join(sys.argv[1:])}: exit code {exit.code}")


run, model = out / "run", out / "model.keras"
auxsearch("validate", space)
auxsearch("run", space, "--out", run)
auxsearch("show", run)
auxsearch("confirm", run, "--top", "1", "--seeds", "2")
auxsearch("export-model", run, "--out", model)
auxsearch("plot", run)
auxsearch("run", space, "--out", out / "workers", "--workers", "1")
auxsearch("run", space, "--out", out / "packed", "--pack", "2")

import keras
from sklearn.datasets import load_digits

x = load_digits().images[:16, :, :, None].astype("float32")
predictions = keras.models.load_model(model).predict(x, verbose=0)
np.savez(out / "predictions.npz", x=x, predictions=predictions)
print(json.dumps({
    "backend": keras.backend.backend(),
    "tensorflow": sorted(m for m in sys.modules if m.partition(".")[0] == "tensorflow"),
    "trials": sum(1 for _ in open(run / "trials.csv")) - 1,
    "worker_trials": sum(1 for _ in open(out / "workers" / "trials.csv")) - 1,
    "packed_trials": sum(1 for _ in open(out / "packed" / "trials.csv")) - 1,
}))
'''

# Two trials on one traced model, then the second one from a fresh model.
TRACE_ONCE = '''
import json
import keras
import numpy as np
from auxsearch.search.hypermodel import AuxLossHyperModel

TRACES = []


class CountTraces(keras.layers.Layer):
    def call(self, x):
        TRACES.append(1)
        return x


def build():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
    h = CountTraces(name="count")(h)
    h = keras.layers.Dense(8, activation="relu", name="d2")(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


rng = np.random.default_rng(0)
x = rng.normal(size=(48, 6)).astype("float32")
y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")


def hp(hm, **taps):
    return hm.hyperparameters({f"tap/{t.name}": t.name in taps for t in hm.taps}
                              | {f"weight/{k}": v for k, v in taps.items()})


def trial(hm, values):
    model = hm.build(values)
    TRACES.clear()
    history = hm.fit(values, model, x[:32], y[:32], validation_data=(x[32:], y[32:]),
                     epochs=2, verbose=0)
    return model, len(TRACES), history.history["loss"]


hm = AuxLossHyperModel(build, seed=1)
first, first_traces, _ = trial(hm, hp(hm))
step = first.train_function
second, second_traces, loss = trial(hm, hp(hm, d2=1.0))
fresh = AuxLossHyperModel(build, seed=1)
_, _, fresh_loss = trial(fresh, hp(fresh, d2=1.0))
print(json.dumps({
    "backend": keras.backend.backend(), "reused": second is first,
    "same_train_function": second.train_function is step,
    "first_traces": first_traces, "second_traces": second_traces,
    "loss": loss, "fresh_loss": fresh_loss,
}))
'''

# Two configurations trained packed, and each alone.
PACKED = '''
import json
import keras
import numpy as np
from auxsearch.core.space import TrainingSpec
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.trial.trainer import PackedTrial


def build():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
    h = keras.layers.Dense(8, activation="relu", name="d2")(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


rng = np.random.default_rng(0)
x = rng.normal(size=(48, 6)).astype("float32")
y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
data = dict(validation_data=(x[32:], y[32:]), epochs=2)
hm = AuxLossHyperModel(build, None, TrainingSpec(batch_size=8), seed=1)
hps = [hm.hyperparameters({}), hm.hyperparameters({"tap/d1": True, "weight/d1": 0.5})]
alone = []
for hp in hps:
    alone.append(hm.fit(hp, hm.build(hp), x[:32], y[:32], verbose=0, **data).history["val_loss"])
results, _ = hm.fit_packed([PackedTrial(hp, hm.trial_seed(hp)) for hp in hps], x[:32], y[:32],
                           **data)
print(json.dumps({"backend": keras.backend.backend(), "alone": alone,
                  "packed": [r.history["val_loss"] for r in results]}))
'''

# Loads a model saved on another backend and predicts the same examples.
LOAD = '''
import json, sys
import keras
import numpy as np

saved = np.load(sys.argv[2])
predictions = keras.models.load_model(sys.argv[1]).predict(saved["x"], verbose=0)
print(json.dumps({"backend": keras.backend.backend(),
                  "difference": float(np.max(np.abs(predictions - saved["predictions"])))}))
'''


def python_for(backend: str) -> str:
    """The Python that runs `backend`, or skips the test."""
    named = os.environ.get(f"AUXSEARCH_{backend.upper()}_PYTHON")
    if named:
        return named
    if importlib.util.find_spec(backend) is not None:
        return sys.executable
    pytest.skip(f"no {backend} here: install it or set AUXSEARCH_{backend.upper()}_PYTHON")


def run_script(backend: str, script: str, *args: str | Path, cwd: Path,
               blocked: Path | None = None) -> dict:
    """Runs `script` on `backend` in a fresh process; returns its last line's JSON."""
    path = cwd / "script.py"
    path.write_text(textwrap.dedent(script))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(p) for p in (blocked, ROOT) if p] + [os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([python_for(backend), str(path), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def jax_commands(tmp_path_factory) -> tuple[dict, Path]:
    """Every command on JAX, TensorFlow refused: what the script saw, and its folder."""
    out = tmp_path_factory.mktemp("jax")
    blocked = out / "blocked"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text(NO_TENSORFLOW)
    space = out / "tiny.toml"
    space.write_text(TINY_SPACE)
    return run_script("jax", COMMANDS, space, out, cwd=out, blocked=blocked), out


def test_every_command_runs_on_jax_without_tensorflow(jax_commands):
    seen, out = jax_commands
    assert seen["backend"] == "jax"
    assert seen["tensorflow"] == []
    assert seen["trials"] == seen["worker_trials"] == seen["packed_trials"] == 2
    for name in ("leaderboard.csv", "confirmed.csv", "leaderboard.png"):
        assert (out / "run" / name).exists(), name


def test_a_model_exported_on_jax_loads_on_tensorflow(jax_commands, tmp_path):
    _, out = jax_commands
    seen = run_script("tensorflow", LOAD, out / "model.keras", out / "predictions.npz",
                      cwd=tmp_path)
    assert seen["backend"] == "tensorflow"
    assert seen["difference"] < 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_second_trial_reuses_the_traced_steps(backend, tmp_path):
    seen = run_script(backend, TRACE_ONCE, cwd=tmp_path)
    assert seen["backend"] == backend
    assert seen["reused"] and seen["same_train_function"]
    if backend != "torch":  # PyTorch runs eagerly: its `call` runs on every step
        assert seen["first_traces"] > 0
        assert seen["second_traces"] == 0
    # The reused model trains with the second trial's loss weights, as a fresh
    # one does: no value of the first trial is baked into the traced step.
    np.testing.assert_allclose(seen["loss"], seen["fresh_loss"], rtol=1e-5)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_packed_trials_train_as_they_would_alone(backend, tmp_path):
    seen = run_script(backend, PACKED, cwd=tmp_path)
    assert seen["backend"] == backend
    np.testing.assert_allclose(seen["packed"], seen["alone"], rtol=1e-4)


def test_pytorch_trains_one_trial_at_a_time(tmp_path):
    script = PACKED.split("alone = []")[0] + (
        "from auxsearch.packing.policy import resolve_pack\n"
        "print(json.dumps({'pack': resolve_pack(hm.trainer, 4, x, y, {})}))\n")
    assert run_script("torch", script, cwd=tmp_path) == {"pack": 1}
