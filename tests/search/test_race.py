"""The race after a search: who trains on which seed, what is saved, what a resume redoes."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from auxsearch.core.rundir import RunDir
from auxsearch.core.space import dump_space, load_space
from auxsearch.results.tables import leaderboard
from auxsearch.search.race import Race, paired_seeds
from auxsearch.search.run import Search


def _search(run_dir: RunDir, race: int, floor: int) -> Search:
    run_dir.race.unlink(missing_ok=True)  # the search's own noise floor, trained already
    space = load_space(run_dir.space)
    band = dataclasses.replace(space.hyperband, race_seeds=race, baseline_seeds=floor)
    space = dataclasses.replace(space, hyperband=band)
    run_dir.space.write_text(dump_space(space))  # as a run writes it (a resume may change both)
    return Search(space, run_dir)


def _fake(monkeypatch, scores):
    trained = []

    def train(self, config, values, seed, result, on_score):
        trained.append((config, seed))
        result.scores[config][seed] = scores(config, seed)
        result.trainings += 1
        self._save(result)

    monkeypatch.setattr(Race, "_train", train)
    return trained


def test_the_race_trains_paired_seeds_drops_the_worse_and_resumes(tiny_run, monkeypatch):
    run_dir = RunDir(tiny_run)
    board = leaderboard(run_dir)
    base = board.loc[board["n_taps"] == 0, "config"].iloc[0]
    other = board.loc[board["n_taps"] > 0, "config"].iloc[0]
    trained = _fake(monkeypatch, lambda c, s: 0.1 + s % 7 / 1e4 if c == base else 0.9)
    search = _search(run_dir, race=4, floor=5)
    result = search.race()
    seeds = paired_seeds(search.space)
    assert seeds == [search.space.seed + 10_000 * i for i in range(1, 6)]
    # Both on the first two seeds; the baseline then drops, and trains on for its noise floor.
    assert set(trained[:2]) == {(other, seeds[0]), (base, seeds[0])}
    assert set(trained[2:4]) == {(other, seeds[1]), (base, seeds[1])}
    assert result.dropped == {base: 2} and result.racing == [other]
    assert sorted(result.scores[base]) == seeds and sorted(result.scores[other]) == seeds[:2]
    assert len(run_dir.baseline_scores()) == 5
    saved = pd.read_csv(run_dir.race, dtype={"config": str})
    assert len(saved) == 7 and set(saved["config"]) == {base, other}
    board = leaderboard(run_dir)
    first = board.iloc[0]
    assert first["config"] == other and first["race"] == "won" and first["race_seeds"] == 2
    assert board.set_index("config").loc[base, "race"] == "dropped after 2 seeds"
    before = len(trained)
    space = _search(run_dir, race=4, floor=5).space
    run_dir.race.write_text(saved.to_csv(index=False))
    Search(space, run_dir).race()  # resumed: nothing left to train
    assert len(trained) == before


def test_without_a_race_only_the_baseline_trains_its_noise_floor(tiny_run, monkeypatch):
    trained = _fake(monkeypatch, lambda c, s: 0.5)
    result = _search(RunDir(tiny_run), race=0, floor=2).race()
    assert len(trained) == 2 and {c for c, _ in trained} == {result.baseline}
    assert "race" not in leaderboard(tiny_run) or leaderboard(tiny_run)["race"].isna().all()


@pytest.mark.e2e
def test_a_real_race_scores_each_configuration_on_each_seed(tiny_run):
    result = _search(RunDir(tiny_run), race=2, floor=2).race()
    assert result.trainings == 4
    assert all(len(by_seed) == 2 and all(v is not None for v in by_seed.values())
               for by_seed in result.scores.values())
