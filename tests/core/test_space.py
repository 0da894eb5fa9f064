import dataclasses
from pathlib import Path

import pytest

from auxsearch.core.errors import SpaceError
from auxsearch.core.space import (
    default_space_path,
    dump_space,
    load_space,
    objective_of,
    parse_space,
)
from auxsearch.core.tasks import TASKS

REPO = Path(__file__).resolve().parents[2]
MINIMAL = '[model]\nbuiltin = "digits_cnn"\n[data]\nbuiltin = "digits"\n'


def test_default_space_is_the_repo_file():
    assert default_space_path().read_text() == (REPO / "search_spaces/digits_cnn.toml").read_text()
    space = load_space()
    assert space.name == "digits_cnn" and space.seed == 1
    assert space.model.builtin == "digits_cnn" and space.data.builtin == "digits"
    assert space.taps.candidates == ("conv*",) and space.taps.weight_range == (0.01, 1.0)
    assert (space.hyperband.max_epochs, space.hyperband.factor,
            space.hyperband.hyperband_iterations) == (9, 3, 1)
    assert dataclasses.astuple(space.training) == ("adam", 0.001, 64, 1)


def test_minimal_space_takes_defaults_and_the_file_stem(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL)
    space = load_space(path)
    assert space.name == "mine" and space.taps.candidates is None
    assert space.source == MINIMAL and space.path == path


@pytest.mark.parametrize(
    "text, message",
    [
        ("sed = 2\n" + MINIMAL,
         (r"unknown key 'sed' \(did you mean 'seed'\?\); allowed keys at the top level: "
          r"name, seed, model, data, objective, taps, training, hyperband$")),
        (MINIMAL + "[taps]\ncandidate = ['a']\n",
         (r"unknown key 'taps.candidate' \(did you mean 'taps.candidates'\?\); "
          r"allowed keys in \[taps\]: candidates, weight_range, max_taps, kinds, schedules, "
          r"off_after, head_units, penalty$")),
        (MINIMAL + "[hyperband]\nmax_epoch = 3\n",
         (r"unknown key 'hyperband.max_epoch' \(did you mean 'hyperband.max_epochs'\?\); "
          r"allowed keys in \[hyperband\]: max_epochs, factor, hyperband_iterations, "
          r"baseline_seeds, race_seeds, sampler$")),
        (MINIMAL + "[trainig]\n", r"unknown key 'trainig' \(did you mean 'training'\?\)"),
        (MINIMAL + "[data]\nzzz = 1\n", r"invalid TOML"),
        (MINIMAL.replace('[data]', '[data]\nzzz = 1'),
         (r"unknown key 'data.zzz'; allowed keys in \[data\]: builtin, file, loader, label, "
          r"task, ignore_label, validation_fraction, test_fraction$")),
        ('[data]\nbuiltin = "digits"\n', r"the \[model\] table is required"),
        (MINIMAL + "[hyperband]\nmax_epochs = 'nine'\n",
         r"hyperband.max_epochs must be an integer; got 'nine'"),
        (MINIMAL + "[hyperband]\nmax_epochs = 0\n", r"hyperband.max_epochs must be >= 1; got 0"),
        (MINIMAL + "[hyperband]\nfactor = 1\n", r"hyperband.factor must be >= 2; got 1"),
        (MINIMAL + "[taps]\nweight_range = [0.0, 1.0]\n",
         r"taps.weight_range must be 0 < low <= high"),
        (MINIMAL + "[taps]\nweight_range = [1.0, 0.1]\n",
         r"taps.weight_range must be 0 < low <= high"),
        (MINIMAL + "[taps]\nweight_range = 0.5\n",
         r"taps.weight_range must be a list of two numbers"),
        (MINIMAL + "[taps]\ncandidates = 'conv*'\n",
         r"taps.candidates must be a non-empty list of strings; got 'conv\*'"),
        (MINIMAL + "[training]\noptimizer = 'adan'\n",
         (r"training.optimizer must be one of adam, adamw, .*; got 'adan' "
          r"\(did you mean 'adam'\?\)$")),
        (MINIMAL + "[training]\npack = 0\n", r'training.pack must be >= 1, or "auto"; got 0$'),
        (MINIMAL + "[training]\npack = 'aut'\n",
         r'training.pack must be >= 1, or "auto"; got \'aut\' \(did you mean \'auto\'\?\)$'),
        (MINIMAL + "[training]\npack = 2.5\n",
         r"training.pack must be an integer or a string; got 2.5$"),
        (MINIMAL + "[training]\nbatch_size = true\n",
         r"training.batch_size must be an integer; got True"),
        (MINIMAL + "[training]\nlearning_rate = -1\n",
         r"training.learning_rate must be > 0; got -1.0"),
        (MINIMAL + "[data]\n", r"invalid TOML"),
        ("model = 3\n[data]\nbuiltin='digits'\n", r"'model' must be a table"),
        (MINIMAL.replace('builtin = "digits"\n',
                         'builtin = "digits"\nvalidation_fraction = 0.6\ntest_fraction = 0.5\n'),
         r"data.test_fraction must be validation_fraction \+ test_fraction < 1"),
        ("[model]\n[data]\nbuiltin = 'digits'\n",
         r"\[model\] needs exactly one of builtin, builder, file; got none$"),
        (MINIMAL.replace("[model]", "[model]\nfile = 'net.keras'"),
         r"\[model\] needs exactly one of builtin, builder, file; got builtin and file$"),
        (MINIMAL.replace('builtin = "digits_cnn"', 'file = "missing.keras"'),
         r"model.file = '.*missing.keras': no such file$"),
        (MINIMAL.replace('builtin = "digits_cnn"', 'file = "net.h5"'),
         r"model.file = '.*net.h5' must be a .keras file$"),
        (MINIMAL.replace('builtin = "digits_cnn"', 'builder = "nocolon"'),
         r"model.builder must be 'package.module:function'; got 'nocolon'$"),
        (MINIMAL.replace('builtin = "digits"', 'file = "d.csv"'),
         r"data.file = '.*d.csv': no such file$"),
        (MINIMAL + "[data]\n", r"invalid TOML"),
        (MINIMAL.replace('builtin = "digits"', 'builtin = "digits"\ntask = "multi"'),
         (rf"data.task must be one of {', '.join(TASKS)}; got 'multi' "
          r"\(did you mean 'multiclass'\?\)$")),
        (MINIMAL.replace('builtin = "digits"', 'builtin = "digits"\nlabel = "y"'),
         r"data.label must be set for a .csv file \(its label column\), and only then; got 'y'$"),
        (MINIMAL + "[taps]\nkinds = ['head', 'hints']\n",
         (r"taps.kinds must be a non-empty list of head, penalty, hint; got \['head', 'hints'\] "
          r"\(did you mean 'hint'\?\)$")),
        (MINIMAL + "[taps]\nschedules = ['linear']\n",
         (r"taps.schedules must be a non-empty list of constant, linear_decay, off_after; "
          r"got \['linear'\] \(did you mean 'linear_decay'\?\)")),
        (MINIMAL + "[taps]\nhead_units = [0, -4]\n",
         r"taps.head_units must be widths >= 0 \(0: no hidden layer\); got \[0, -4\]$"),
        (MINIMAL + "[taps]\nhead_units = 32\n",
         r"taps.head_units must be a non-empty list of integers; got 32$"),
        (MINIMAL + "[taps]\noff_after = 1.5\n",
         r"taps.off_after must be a fraction in \(0, 1\]; got 1.5$"),
        (MINIMAL + "[taps]\nmax_taps = -1\n", r"taps.max_taps must be >= 0"),
        (MINIMAL + "[taps]\npenalty = 'l3'\n", r"taps.penalty must be one of l2, l1; got 'l3'"),
        (MINIMAL + "[objective]\nname = 'val_accuracy'\n",
         (r"objective.name must be one of val_main_accuracy, val_main_loss; got 'val_accuracy' "
          r"\(did you mean 'val_main_accuracy'\?\)$")),
        (MINIMAL + "[objective]\ndirection = 'up'\n",
         r"objective.direction must be one of max, min; got 'up'$"),
        (MINIMAL.replace("[model]", "[model]\nunsafe = 1"),
         r"model.unsafe must be true or false; got 1$"),
        (MINIMAL.replace('builtin = "digits"', 'builtin = "digits"\nloader = "m:load"'),
         r"\[data\] needs exactly one of builtin, file, loader; got builtin and loader$"),
        (MINIMAL.replace('builtin = "digits"', 'loader = "data.npz"'),
         r"data.loader must be 'package.module:function'; got 'data.npz'$"),
        (MINIMAL.replace('builtin = "digits"', 'loader = "m:load"\nlabel = "y"'),
         r"data.label must be set for a .csv file"),
        (MINIMAL.replace('builtin = "digits"', 'builtin = "digits"\nignore_label = 255'),
         (r"data.ignore_label must be set only for a per-position task \(segmentation\); "
         r"got 255$")),
        (MINIMAL.replace('builtin = "digits"', 'builtin = "digits"\nignore_label = "255"'),
         r"data.ignore_label must be an integer; got '255'$"),
    ],
)
def test_bad_spaces_name_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpaceError, match=message) as info:
        load_space(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(SpaceError, match=r"nope.toml: no such search-space file"):
        load_space(tmp_path / "nope.toml")


def test_files_are_read_relative_to_the_space_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.npz").write_bytes(b"")
    path = tmp_path / "s.toml"
    path.write_text(
        MINIMAL.replace('builtin = "digits"', 'file = "data/d.npz"\ntask = "regression"'))
    space = load_space(path)
    assert space.data.file == str(tmp_path / "data" / "d.npz")
    assert parse_space(dump_space(space), "s") == space
    assert objective_of(space) == ("val_main_mae", "min")


def test_objective_defaults_follow_the_task_and_may_be_overridden():
    space = parse_space(MINIMAL + "[objective]\nname = 'val_main_loss'\n", "s")
    assert objective_of(space) == ("val_main_loss", "min")
    assert objective_of(parse_space(MINIMAL, "s")) == ("val_main_accuracy", "max")


def test_parse_space_from_text():
    assert parse_space(MINIMAL, name="inline").name == "inline"


def test_pack_is_a_number_or_auto():
    assert parse_space(MINIMAL + "[training]\npack = 4\n", "m").training.pack == 4
    assert parse_space(MINIMAL + "[training]\npack = 'auto'\n", "m").training.pack == "auto"
    assert parse_space(MINIMAL, "m").training.pack == 1


def test_a_loader_is_kept_as_written_and_survives_the_run_directory(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(MINIMAL.replace('builtin = "digits"', 'loader = "pkg.data:load"'))
    space = load_space(path)  # not resolved against the space file: a module, not a path
    assert space.data.loader == "pkg.data:load" and space.data.ignore_label is None
    assert 'loader = "pkg.data:load"' in dump_space(space)
    assert "ignore_label" not in dump_space(space)
    assert parse_space(dump_space(space), "s") == space


@pytest.mark.skipif("segmentation" not in TASKS, reason="the segmentation task is not in TASKS")
@pytest.mark.parametrize("label", [0, 255, -100])
def test_ignore_label_is_any_integer_for_segmentation(label):
    text = MINIMAL.replace('builtin = "digits"',
                           f'loader = "m:load"\ntask = "segmentation"\nignore_label = {label}')
    space = parse_space(text, "s")
    assert space.data.ignore_label == label
    assert parse_space(dump_space(space), "s") == space
