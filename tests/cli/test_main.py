import subprocess
import sys

import numpy as np
import pytest

from auxsearch.cli.main import main
from tests.cli.conftest import assert_refused, images


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "{missing}"], "no such search-space file"),
        (["taps", "{bad}"], "unknown key 'taps.candidate' (did you mean 'taps.candidates'?)"),
        (["run", "{bad}"], "unknown key 'taps.candidate'"),
        (["run", "{unknown_layer}"], "no layer named 'conv9' in model 'digits_cnn'; did you mean"),
        (["run", "{tiny}", "--max-epochs", "0"], "--max-epochs must be >= 1; got 0"),
        (["run", "{tiny}", "--pack", "0"], '--pack must be >= 1, or "auto"; got 0'),
        (["run", "{tiny}", "--pack", "atuo"], "got 'atuo' (did you mean 'auto'?)"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, message, tiny_space, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(tiny_space.read_text().replace("candidates", "candidate"))
    unknown = tmp_path / "unknown_layer.toml"
    unknown.write_text(tiny_space.read_text().replace('"conv5"', '"conv9"'))
    paths = {"missing": tmp_path / "nope.toml", "bad": bad, "unknown_layer": unknown,
             "tiny": tiny_space}
    argv = [arg.format(**paths) for arg in argv]
    out = tmp_path / "run"
    assert main(argv + ["--out", str(out)] if argv[0] == "run" else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_version(capsys):
    from auxsearch import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"auxsearch {__version__}\n"


@pytest.mark.e2e
def test_version_needs_no_tensorflow():
    from auxsearch import __version__

    code = ("import sys\nfrom auxsearch.cli.main import main\ntry:\n    main(['--version'])\n"
            "except SystemExit as end:\n    assert end.code == 0\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == f"auxsearch {__version__}\n", done.stderr


def test_each_search_command_says_how_it_searches():
    from auxsearch.cli.main import _parser

    parse = _parser().parse_args
    assert parse(["run"]).mode == "run"
    assert parse(["chief", "--out", "x"]).mode == "chief"
    assert parse(["worker", "--out", "x", "--chief", "h:1"]).mode == "worker"


@pytest.mark.parametrize("raised, code, line", [
    (KeyboardInterrupt(), 130, "interrupted: run the same command again to resume"),
    (RuntimeError("Number of failures exceeded.\nTraceback ...\nValueError: boom"), 1,
     ("error: RuntimeError: Number of failures exceeded. ... ValueError: boom "
     "(--debug shows the traceback)")),
])
def test_exit_codes_of_what_no_one_expected(raised, code, line, tiny_space, monkeypatch,
                                            capsys, tmp_path):
    from auxsearch.search import run as search

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(search.Search, "run", fail)
    assert main(["run", str(tiny_space), "--out", str(tmp_path / "run")]) == code
    assert capsys.readouterr().err.strip().splitlines()[-1] == line


def test_debug_shows_the_traceback(tmp_path):
    from auxsearch.core.errors import SpaceError

    with pytest.raises(SpaceError):
        main(["run", str(tmp_path / "nope.toml"), "--debug"])


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    assert "--max-epochs" in capsys.readouterr().out


# --- Bad input (issue "Bad input"): every case below ends the real command
# line with exit code 2 and ONE `error: ...` line naming the cause, shows no
# traceback, and writes nothing (a run's --out is never created; every file
# under tmp_path, an existing run directory included, is left byte for byte).

DATA = ('builtin = "digits"', 'file = "data.npz"')  # [data]: the npz next to the space


def _edit(text, *changes):
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _space(tmp, text, *changes, name="space.toml"):
    path = tmp / name
    path.write_text(_edit(text, *changes))
    return [str(path)]


def _npz(tmp, text, *changes, **arrays):
    """A space reading data.npz, which holds `arrays` (default: fine images)."""
    if not arrays:
        arrays = dict(zip(("x_train", "y_train"), images()))
    np.savez(tmp / "data.npz", **arrays)
    return _space(tmp, text, DATA, *changes)


def _data_file(tmp, text, name, content, *changes):
    """A space whose [data] file is `name`, holding `content` (bytes or text)."""
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return _space(tmp, text, ('builtin = "digits"', f'file = "{name}"'), *changes)


def _nan_images():
    x, y = images()
    x[3, 2, 1, 0] = np.nan
    return {"x_train": x, "y_train": y}


def _valid_keras(tmp):
    """A valid .keras model, but for 6 features, not 8x8 images."""
    import keras

    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    model.save(tmp / "net.keras")


def _npy_as_npz(tmp, text):
    with open(tmp / "data.npz", "wb") as stream:
        np.save(stream, np.zeros((4, 8, 8, 1)))
    return _space(tmp, text, DATA)


def _truncated_npz(tmp, text):
    _npz(tmp, text)
    whole = (tmp / "data.npz").read_bytes()
    (tmp / "data.npz").write_bytes(whole[: len(whole) // 2])
    return _space(tmp, text, DATA)


def _broken_builder(tmp, text):
    (tmp / "auxsearch_broken_builder.py").write_text(
        "raise RuntimeError('boom\\non two lines')\n")
    return _space(tmp, text, ('builtin = "digits_cnn"',
                              'builder = "auxsearch_broken_builder:build"'))


_BAD_INPUT = [
    # id, command, make(tmp_path, tiny space text) -> arguments, substrings of the error
    # -- the space file itself
    ("missing-space-file", "run", lambda t, s: [str(t / "nope.toml")],
     ["nope.toml", "no such search-space file"]),
    ("space-is-a-directory", "run", lambda t, s: [str(t)], ["cannot read the file"]),
    ("space-not-utf8", "run",
     lambda t, s: (t.joinpath("space.toml").write_bytes(b"name = \"\xff\xfe\"\n"),
                   [str(t / "space.toml")])[1], ["space.toml", "cannot read the file"]),
    ("toml-unclosed-table", "run", lambda t, s: _space(t, s + "\n[model\n"),
     ["space.toml", "invalid TOML"]),
    ("toml-duplicate-key", "validate",
     lambda t, s: _space(t, s, ("seed = 3", "seed = 3\nseed = 4")),
     ["space.toml", "invalid TOML"]),
    ("toml-unquoted-string", "run", lambda t, s: _space(t, s, ('"digits_cnn"', "digits_cnn")),
     ["invalid TOML"]),
    # -- keys
    ("unknown-top-level-key", "run", lambda t, s: _space(t, s, ("seed = 3", "sead = 3")),
     ["unknown key 'sead' (did you mean 'seed'?)", "at the top level"]),
    ("misspelt-section", "run", lambda t, s: _space(t, s, ("[hyperband]", "[hyperbands]")),
     ["unknown key 'hyperbands' (did you mean 'hyperband'?)"]),
    ("misspelt-key-in-taps", "validate",
     lambda t, s: _space(t, s, ("candidates", "candidate")),
     ["unknown key 'taps.candidate' (did you mean 'taps.candidates'?)"]),
    ("misspelt-key-in-training", "run",
     lambda t, s: _space(t, s, ("batch_size", "batchsize")),
     ["unknown key 'training.batchsize' (did you mean 'training.batch_size'?)"]),
    ("misspelt-key-in-hyperband", "run",
     lambda t, s: _space(t, s, ("max_epochs", "max_epoch")),
     ["unknown key 'hyperband.max_epoch' (did you mean 'hyperband.max_epochs'?)"]),
    ("missing-data-table", "run",
     lambda t, s: _space(t, s, ('[data]\nbuiltin = "digits"\n', "")),
     ["the [data] table is required"]),
    ("model-two-sources", "run",
     lambda t, s: _space(t, s, ('builtin = "digits_cnn"',
                                'builtin = "digits_cnn"\nbuilder = "m:f"')),
     ["[model] needs exactly one of builtin, builder, file; got builtin and builder"]),
    # -- types
    ("section-not-a-table", "run",
     lambda t, s: _space(t, "taps = 3\n" + s, ('[taps]\ncandidates = ["conv2", "conv5"]', "")),
     ["'taps' must be a table"]),
    ("batch-size-a-string", "run", lambda t, s: _space(t, s, ("= 128", '= "128"')),
     ["training.batch_size must be an integer; got '128'"]),
    ("seed-a-float", "run", lambda t, s: _space(t, s, ("seed = 3", "seed = 3.5")),
     ["seed must be an integer; got 3.5"]),
    ("candidates-a-string", "run",
     lambda t, s: _space(t, s, ('["conv2", "conv5"]', '"conv2"')),
     ["taps.candidates must be a non-empty list of strings; got 'conv2'"]),
    ("candidates-empty", "run", lambda t, s: _space(t, s, ('["conv2", "conv5"]', "[]")),
     ["taps.candidates must be a non-empty list of strings"]),
    ("weight-range-one-number", "run",
     lambda t, s: _space(t, s, ("[taps]", "[taps]\nweight_range = [0.5]")),
     ["taps.weight_range must be a list of two numbers"]),
    ("unsafe-not-a-bool", "run",
     lambda t, s: _space(t, s, ('builtin = "digits_cnn"', 'builtin = "digits_cnn"\nunsafe = 1')),
     ["model.unsafe must be true or false; got 1"]),
    # -- values
    ("weight-low-zero", "run",
     lambda t, s: _space(t, s, ("[taps]", "[taps]\nweight_range = [0.0, 1.0]")),
     ["taps.weight_range must be 0 < low <= high", "got [0.0, 1.0]"]),
    ("weight-low-negative", "validate",
     lambda t, s: _space(t, s, ("[taps]", "[taps]\nweight_range = [-0.1, 1.0]")),
     ["taps.weight_range must be 0 < low <= high", "log-uniformly"]),
    ("weight-min-above-max", "run",
     lambda t, s: _space(t, s, ("[taps]", "[taps]\nweight_range = [1.0, 0.1]")),
     ["taps.weight_range must be 0 < low <= high", "got [1.0, 0.1]"]),
    ("max-epochs-0-in-file", "run", lambda t, s: _space(t, s, ("max_epochs = 2", "max_epochs = 0")),
     ["hyperband.max_epochs must be >= 1; got 0"]),
    ("max-epochs-0-option", "run", lambda t, s: _space(t, s) + ["--max-epochs", "0"],
     ["--max-epochs must be >= 1; got 0"]),
    ("seed-negative-option", "run", lambda t, s: _space(t, s) + ["--seed", "-1"],
     ["--seed must be >= 0; got -1"]),
    ("sampler-misspelt-option", "run", lambda t, s: _space(t, s) + ["--sampler", "modle"],
     ["--sampler must be one of random, model; got 'modle' (did you mean 'model'?)"]),
    ("sampler-misspelt-in-file", "run",
     lambda t, s: _space(t, s, ("factor = 3", 'factor = 3\nsampler = "tpe"')),
     ["hyperband.sampler must be one of random, model; got 'tpe'"]),
    ("workers-negative", "run", lambda t, s: _space(t, s) + ["--workers", "-1"],
     ["--workers must be >= 0; got -1"]),
    ("trial-timeout-negative", "run", lambda t, s: _space(t, s) + ["--trial-timeout", "-1"],
     ["--trial-timeout must be >= 0; got -1"]),
    ("factor-1", "run", lambda t, s: _space(t, s, ("factor = 3", "factor = 1")),
     ["hyperband.factor must be >= 2; got 1"]),
    ("batch-size-0", "run", lambda t, s: _space(t, s, ("= 128", "= 0")),
     ["training.batch_size must be >= 1; got 0"]),
    ("fractions-sum-to-1", "run",
     lambda t, s: _space(t, s, (DATA[0], DATA[0] + "\nvalidation_fraction = 0.5\n"
                                "test_fraction = 0.5")),
     ["data.test_fraction must be validation_fraction + test_fraction < 1"]),
    ("optimizer-misspelt", "run",
     lambda t, s: _space(t, s, ("batch_size", 'optimizer = "adamm"\nbatch_size')),
     ["training.optimizer must be one of adam,", "got 'adamm' (did you mean 'adam'?)"]),
    ("kind-misspelt", "run",
     lambda t, s: _space(t, s, ("[taps]", '[taps]\nkinds = ["heads"]')),
     ["taps.kinds must be a non-empty list of head,", "got ['heads'] (did you mean 'head'?)"]),
    ("task-misspelt", "run",
     lambda t, s: _space(t, s, (DATA[0], DATA[0] + '\ntask = "multiclas"')),
     ["data.task must be one of multiclass,", "got 'multiclas' (did you mean 'multiclass'?)"]),
    ("objective-misspelt", "run",
     lambda t, s: _space(t, s + '\n[objective]\nname = "val_accuracy"\n'),
     ["objective.name must be one of val_main_accuracy,",
      "got 'val_accuracy' (did you mean 'val_main_accuracy'?)"]),
    ("builtin-model-misspelt", "run",
     lambda t, s: _space(t, s, ('"digits_cnn"', '"digit_cnn"')),
     ["model.builtin = 'digit_cnn' is not a built-in model (did you mean 'digits_cnn'?)",
      "allowed: digits_cnn,"]),
    # -- taps
    ("unknown-layer", "run", lambda t, s: _space(t, s, ('"conv5"', '"conv9"')),
     ["no layer named 'conv9' in model 'digits_cnn'; did you mean 'conv6', 'conv5', 'conv4'?"]),
    ("unknown-layer-validate", "validate", lambda t, s: _space(t, s, ('"conv5"', '"conv_5"')),
     ["no layer named 'conv_5'", "did you mean 'conv5'"]),
    ("output-layer-as-tap", "run", lambda t, s: _space(t, s, ('"conv5"', '"predictions"')),
     ["layer 'predictions' cannot be tapped"]),
    ("input-layer-as-tap", "taps", lambda t, s: _space(t, s, ('"conv5"', '"image"')),
     ["layer 'image' cannot be tapped"]),
    ("pattern-matches-nothing", "run", lambda t, s: _space(t, s, ('"conv5"', '"dense*"')),
     ["tap pattern 'dense*' matches no candidate layer"]),
    # -- model sources
    ("missing-keras-file", "run",
     lambda t, s: _space(t, s, ('builtin = "digits_cnn"', 'file = "net.keras"')),
     ["model.file", "net.keras", "no such file"]),
    ("model-file-not-keras-suffix", "run",
     lambda t, s: (t.joinpath("net.h5").write_bytes(b"x"),
                   _space(t, s, ('builtin = "digits_cnn"', 'file = "net.h5"')))[1],
     ["model.file", "net.h5", "must be a .keras file"]),
    ("garbage-keras-file", "run",
     lambda t, s: (t.joinpath("net.keras").write_bytes(b"not a zip\n\x00\x01"),
                   _space(t, s, ('builtin = "digits_cnn"', 'file = "net.keras"')))[1],
     ["net.keras", "cannot be loaded"]),
    ("keras-file-wrong-input", "validate",
     lambda t, s: (_valid_keras(t),
                   _space(t, s, ('builtin = "digits_cnn"', 'file = "net.keras"')))[1],
     ["net.keras", "expects inputs of shape (6,)", "(8, 8, 1)"]),
    ("builder-module-missing", "run",
     lambda t, s: _space(t, s, ('builtin = "digits_cnn"',
                                'builder = "no_such_module_xyz:build"')),
     ["cannot import module 'no_such_module_xyz'"]),
    ("builder-module-raises", "run", _broken_builder,
     ["cannot import module 'auxsearch_broken_builder'", "RuntimeError: boom on two lines"]),
    ("builder-function-missing", "run",
     lambda t, s: _space(t, s, ('builtin = "digits_cnn"',
                                'builder = "auxsearch.models.builders:digits_cn"')),
     ["has no attribute 'digits_cn' (did you mean 'digits_cnn'?)"]),
    ("builder-without-colon", "run",
     lambda t, s: _space(t, s, ('builtin = "digits_cnn"',
                                'builder = "auxsearch.models.builders.digits_cnn"')),
     ["model.builder must be 'package.module:function'"]),
    ("builder-returns-no-model", "run",
     lambda t, s: _space(t, s, ('builtin = "digits_cnn"',
                                'builder = "auxsearch.core.space:default_space_path"')),
     ["returned a PosixPath; it must return a keras.Model"]),
    # -- data
    ("missing-data-file", "run", lambda t, s: _space(t, s, DATA),
     ["data.file", "data.npz", "no such file"]),
    ("data-file-wrong-suffix", "run", lambda t, s: _data_file(t, s, "data.txt", "1,2\n"),
     ["data.file", "must be a .npz or .csv file"]),
    ("garbage-npz", "run", lambda t, s: _data_file(t, s, "data.npz", b"garbage\x00\xff"),
     ["data.npz", "not an .npz archive"]),
    ("truncated-npz", "validate", _truncated_npz, ["data.npz", "cannot read"]),
    ("npy-not-npz", "run", _npy_as_npz, ["data.npz", "a single .npy array"]),
    ("npz-misspelt-array", "run",
     lambda t, s: _npz(t, s, x_trian=images()[0], y_train=images()[1]),
     ["unknown array 'x_trian' (did you mean 'x_train'?)"]),
    ("npz-object-array", "run",
     lambda t, s: _npz(t, s, x_train=np.array([{}, {}], dtype=object), y_train=np.zeros(2)),
     ["x_train is an object (pickled) array"]),
    ("empty-x-train", "run",
     lambda t, s: _npz(t, s, x_train=np.zeros((0, 8, 8, 1)), y_train=np.zeros(0)),
     ["data.npz", "x_train is empty"]),
    ("x-y-length-mismatch", "run",
     lambda t, s: _npz(t, s, x_train=images()[0], y_train=images()[1][:-1]),
     ["y_train has 39 rows but x_train has 40"]),
    ("nan-in-x", "validate", lambda t, s: _npz(t, s, **_nan_images()),
     ["x_train has nan at index (3, 2, 1, 0)", "finite"]),
    ("negative-label", "run",
     lambda t, s: _npz(t, s, x_train=images()[0], y_train=images()[1] - 1),
     ["y_train has label -1 at index 0", "multiclass labels must be integers"]),
    ("label-missing-class", "run",
     lambda t, s: _npz(t, s, x_train=images()[0], y_train=images()[1] * 2),
     ["y_train has no example of class 1"]),
    ("val-label-out-of-range", "run",
     lambda t, s: _npz(t, s, x_train=images()[0], y_train=images()[1],
                       x_val=images()[0][:4], y_val=np.array([0, 1, 2, 9])),
     ["y_val has label 9, which y_train never has; labels must be 0..3"]),
    ("binary-label-not-0-1", "run",
     lambda t, s: _npz(t, s, (DATA[1], DATA[1] + '\ntask = "binary"'),
                       x_train=images()[0], y_train=images(classes=3)[1]),
     ["y_train has label 2 at index 2; binary labels must be 0 or 1"]),
    ("one-hot-labels", "run",
     lambda t, s: _npz(t, s, x_train=images()[0], y_train=np.eye(4)[images()[1]]),
     ["y_train has shape (40, 4)", "not one-hot"]),
    ("tabular-data-for-image-model", "run",
     lambda t, s: _npz(t, s, x_train=np.ones((40, 6)), y_train=images()[1]),
     ["built-in model 'digits_cnn' needs image inputs"]),
    ("csv-without-label-column", "run",
     lambda t, s: _data_file(t, s, "data.csv", "a,b,y\n1,2,0\n3,4,1\n",
                             ("data.csv\"", 'data.csv"\nlabel = "target"')),
     ["data.csv", "no label column 'target'", "columns: a, b, y"]),
    ("csv-label-misspelt", "run",
     lambda t, s: _data_file(t, s, "data.csv", "a,b,label\n1,2,0\n3,4,1\n",
                             ("data.csv\"", 'data.csv"\nlabel = "lable"')),
     ["no label column 'lable' (did you mean 'label'?)"]),
    ("csv-without-label-key", "run",
     lambda t, s: _data_file(t, s, "data.csv", "a,b,y\n1,2,0\n"),
     ["data.label must be set for a .csv file"]),
    ("csv-not-numeric", "validate",
     lambda t, s: _data_file(t, s, "data.csv", "a,b,y\n1,2,0\n3,x,1\n",
                             ("data.csv\"", 'data.csv"\nlabel = "y"')),
     ["column 'b' is not numeric ('x' on line 3)"]),
    ("csv-empty", "run",
     lambda t, s: _data_file(t, s, "data.csv", "", ("data.csv\"", 'data.csv"\nlabel = "y"')),
     ["data.csv", "cannot read the CSV file"]),
    # -- commands on a directory that is not a run directory
    ("show-not-a-run", "show", lambda t, s: [str(t)], ["not a run directory", "no space.toml"]),
    ("confirm-not-a-run", "confirm", lambda t, s: [str(t)], ["not a run directory"]),
    ("export-model-not-a-run", "export-model",
     lambda t, s: [str(t), "--out", str(t / "m.keras")], ["not a run directory"]),
    ("show-missing-directory", "show", lambda t, s: [str(t / "nope")],
     ["nope: not a run directory"]),
]


@pytest.mark.parametrize(
    "command, make, needles",
    [pytest.param(*case[1:], id=case[0]) for case in _BAD_INPUT],
)
def test_bad_input_refused_before_anything_is_written(
    command, make, needles, tiny_space, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # builders import from here; default results/ here
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    argv = [command, *make(tmp_path, tiny_space.read_text())]
    out = tmp_path / "out"
    if command == "run":
        argv += ["--out", str(out)]
    assert_refused(argv, needles, tmp_path, capsys, out)
    assert not (tmp_path / "results").exists()


_BAD_ON_A_RUN = [
    ("resume-with-other-seed", lambda r, s: ["run", str(s), "--out", str(r), "--seed", "9"],
     [("holds a search of another space (seed: 3 -> 9); use --overwrite to discard it, "
      "or --out for another directory")]),
    ("resume-with-other-space",
     lambda r, s: ["run", str(s.with_name("other.toml")), "--out", str(r)],
     ["holds a search of another space", "taps.candidates: ['conv2', 'conv5'] -> ['conv2']"]),
    ("resume-with-other-max-epochs",
     lambda r, s: ["run", str(s), "--out", str(r), "--max-epochs", "3"],
     ["hyperband.max_epochs: 2 -> 3"]),
    ("show-negative-top", lambda r, s: ["show", str(r), "--top", "-1"],
     ["--top must be >= 0; got -1"]),
    ("confirm-top-0", lambda r, s: ["confirm", str(r), "--top", "0"],
     ["--top must be >= 1; got 0"]),
    ("confirm-seeds-1", lambda r, s: ["confirm", str(r), "--seeds", "1"],
     ["--seeds must be >= 2 (a look compares paired seeds); got 1"]),
    ("confirm-margin-0", lambda r, s: ["confirm", str(r), "--margin", "0"],
     ["--margin must be a number > 0, in the metric's units (e.g. 0.01 for accuracy); got 0.0"]),
    ("confirm-margin-word", lambda r, s: ["confirm", str(r), "--margin", "small"],
     ["--margin must be a number > 0", "got 'small'"]),
    ("export-model-rank-0", lambda r, s: ["export-model", str(r), "--rank", "0",
                                          "--out", str(r / "m.keras")],
     ["--rank must be >= 1; got 0"]),
    ("export-model-rank-too-high", lambda r, s: ["export-model", str(r), "--rank", "99",
                                                 "--out", str(r / "m.keras")],
     ["no configuration ranked 99; ranks are 1 to 2"]),
    ("export-model-not-keras", lambda r, s: ["export-model", str(r), "--out", str(r / "m.h5")],
     ["--out must be a path ending with .keras; got", "m.h5"]),
]


@pytest.mark.parametrize(
    "make, needles", [pytest.param(*case[1:], id=case[0]) for case in _BAD_ON_A_RUN]
)
def test_bad_input_on_a_run_directory_changes_nothing(make, needles, tiny_run, tiny_space,
                                                      tmp_path, capsys):
    tiny_space.with_name("other.toml").write_text(
        tiny_space.read_text().replace(', "conv5"', ""))
    assert_refused(make(tiny_run, tiny_space), needles, tmp_path, capsys)
