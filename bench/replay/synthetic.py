"""Synthetic tables: a known truth, for tests and for timing a replay without recording.

Each layer's tap adds an effect to the final score that depends on its
weight (a bump around a best log-weight, negative for some layers); seeds
add noise; a curve rises towards its final score. A configuration with too
much total weight may diverge, as deep supervision can.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from auxsearch.core.atomic import save_json
from auxsearch.core.tapspace import TapSpace, active_taps, format_taps
from bench.replay.table import COLUMNS, CURVES, META


def synthetic_table(out: str | Path, layers: int = 6, weights: tuple[float, ...] = (0.032, 0.32),
                    seeds: int = 3, max_epochs: int = 9, max_taps: int | None = None,
                    noise: float = 0.01, seed: int = 0) -> Path:
    """Writes a table of a made-up space with known per-layer effects; returns its folder."""
    rng = np.random.default_rng(seed)
    names = [f"conv{i}" for i in range(1, layers + 1)]
    space = TapSpace(names, (0.01, 1.0), max_taps=max_taps, weight_grid=weights)
    effects = rng.normal(0, 0.02, layers)
    best_logs = rng.uniform(math.log(0.01), 0, layers)
    rows = []
    configs = space.configurations()
    for c, values in enumerate(configs):
        taps = active_taps(values)
        final = 0.8 + sum(effects[names.index(t.layer)] * math.exp(
            -(math.log(t.weight) - best_logs[names.index(t.layer)]) ** 2) for t in taps.values())
        diverges = sum(t.weight for t in taps.values()) > 1.2
        for s in range(seeds):
            score = min(1.0, final + rng.normal(0, noise))
            for e in range(1, max_epochs + 1):
                if diverges and s == 0 and e == max_epochs // 2 + 1:
                    rows.append([c, 100 + s, e, None, None, None, 0.1 * e, 1])
                    break
                value = 0.1 + (score - 0.1) * (1 - math.exp(-e / 2)) + rng.normal(0, noise / 2)
                rows.append([c, 100 + s, e, value, 1 - value, 1 - value, 0.1 * e, 0])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(out / CURVES, index=False)
    save_json(out / META, {
        "name": f"synthetic{layers}", "objective": "val_main_accuracy", "direction": "max",
        "chance": 0.1, "max_epochs": max_epochs, "factor": 3,
        "seeds": [100 + s for s in range(seeds)], "paired": True,
        "tapspace": {"layers": names, "weight_range": [0.01, 1.0], "weight_grid": list(weights),
                     "kinds": ["head"], "schedules": ["constant"], "head_units": [0],
                     "hint_layers": [], "max_taps": max_taps},
        "configs": [{"id": i, "taps": format_taps(active_taps(v)), "values": v}
                    for i, v in enumerate(configs)],
        "effects": dict(zip(names, effects.tolist())), "chains": [], "record": {},
    })
    return out
