"""The commands on a space file: `taps` lists its candidates, `validate` checks it."""

from __future__ import annotations

import argparse

from auxsearch.core.space import load_space  # imports no Keras, as `--version` must not


def taps_command(args: argparse.Namespace) -> int:
    """Prints the model's candidate tap layers and which the space selects."""
    from auxsearch.search.validate import list_taps

    listing = list_taps(load_space(args.space))
    selected = set(listing.selected)
    print(f"{listing.space.name}: model {listing.model_name!r}, {listing.layers} layers, "
          f"{len(listing.candidates)} candidate taps, {len(selected)} selected by the space")
    width = max([len(tap.name) for tap in listing.candidates] + [5])
    print(f"{'pos':>4}  {'layer':<{width}}  {'output shape':<20}  selected")
    for tap in listing.candidates:
        mark = "yes" if tap.name in selected else "-"
        print(f"{tap.index:>4}  {tap.name:<{width}}  {str(tap.shape):<20}  {mark}")
    return 0


def validate_command(args: argparse.Namespace) -> int:
    """Checks a space without a search and prints what it would search."""
    from auxsearch.search.validate import validate

    report = validate(load_space(args.space))
    taps, band = report.space.taps, report.space.hyperband
    hints = f"; hint targets for {', '.join(report.hints)}" if report.hints else ""
    slots = f"up to {taps.max_taps} taps per configuration" if taps.max_taps else "any subset"
    low, high = taps.weight_range
    train, val, test = report.examples
    trials, epochs = report.budget
    print(f"{report.space.path}: valid ({report.seconds:.1f}s)")
    print(f"  model       {report.model_source}: {report.model_name!r}, {report.layers} "
          f"layers, output {report.output_shape}")
    print(f"  data        {report.data_source}: {report.task}, {train} train / {val} "
          f"validation / {test} test examples of shape {report.input_shape}{hints}")
    print(f"  taps        {len(report.candidates)} candidates of {report.tappable} "
          f"tappable layers: {', '.join(report.candidates)}")
    print(f"  space       {report.configurations:,} tap configurations ({slots}; kinds "
          f"{', '.join(taps.kinds)}; schedules {', '.join(taps.schedules)}; head widths "
          f"{', '.join(map(str, taps.head_units))}), weights log-uniform in "
          f"[{low:g}, {high:g}]")
    print(f"  objective   {' '.join(report.objective)}")
    print(f"  hyperband   max_epochs={band.max_epochs} factor={band.factor} "
          f"iterations={band.hyperband_iterations}: {trials} trials, {epochs} epochs")
    print(f"  preflight   one training and one evaluation step with every candidate output: "
          f"{report.preflight_seconds:.2f}s")
    return 0
