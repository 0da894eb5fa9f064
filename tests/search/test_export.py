import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from auxsearch.core.errors import AuxSearchError, RunDirError, SpaceError
from auxsearch.core.rundir import RunDir
from auxsearch.results.tables import leaderboard
from auxsearch.search.export import check_out, export_model, main_model
from auxsearch.search.run import open_run


def test_exported_model_is_the_main_head_with_trained_weights(tiny_run):
    path = export_model(tiny_run, tiny_run / "best.keras", rank=1)
    exported = keras.models.load_model(path)
    assert exported.output_names == ["main"] or len(exported.outputs) == 1
    assert not [layer for layer in exported.layers if layer.name.startswith("aux_")]

    # The multi-output model of the same trial, from the same checkpoint.
    search = open_run(tiny_run)
    row = leaderboard(tiny_run).iloc[0]
    trial = row["trials"].split(">")[-1]
    run_dir = RunDir(tiny_run)
    values = run_dir.trial_state(trial)["hyperparameters"]["values"]
    full = search.hypermodel.build(search.hypermodel.hyperparameters(values))
    full.load_weights(run_dir.checkpoint(trial))
    x = search.data.x_val[:32]
    np.testing.assert_allclose(exported.predict(x, verbose=0),
                               full.predict(x, verbose=0)["main"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(main_model(full).predict(x, verbose=0),
                               exported.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.e2e
def test_exported_model_loads_without_auxsearch(tiny_run):
    path = export_model(tiny_run, tiny_run / "best.keras")
    code = (
        "import sys, keras, numpy as np\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        "assert not [n for n in sys.modules if n.startswith('auxsearch')]\n"
        "print(m.predict(np.zeros((2, 8, 8, 1), 'float32'), verbose=0).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("(2, 10)")


def test_export_errors(tiny_run):
    with pytest.raises(SpaceError, match="^out must be a path ending with .keras; got 'model.h5'"):
        export_model(tiny_run, "model.h5")
    with pytest.raises(SpaceError, match="^rank must be >= 1; got 0$"):
        export_model(tiny_run, tiny_run / "x.keras", rank=0)
    with pytest.raises(AuxSearchError, match="no configuration ranked 7; ranks are 1 to 2"):
        export_model(tiny_run, tiny_run / "x.keras", rank=7)
    with pytest.raises(RunDirError, match="not a run directory"):
        export_model(tiny_run / "search", tiny_run / "x.keras")
    trial = leaderboard(tiny_run).iloc[0]["trials"].split(">")[-1]
    RunDir(tiny_run).checkpoint(trial).unlink()
    with pytest.raises(RunDirError, match="checkpoint.weights.h5: no checkpoint to export"):
        export_model(tiny_run, tiny_run / "x.keras")
    assert not (tiny_run / "x.keras").exists()


def test_check_out_names_the_setting_as_the_caller_does():
    assert check_out("a/m.keras") == Path("a/m.keras")
    with pytest.raises(SpaceError, match="^--out must be a path ending with .keras; got 'm'$"):
        check_out("m", key="--out")
