import pandas as pd

from auxsearch.core.rundir import RunDir
from auxsearch.results.tables import leaderboard, trials
from auxsearch.results.write import write_leaderboards


def test_csvs_are_the_same_tables(run_dir):
    paths = write_leaderboards(RunDir(run_dir))
    assert paths == (RunDir(run_dir).leaderboard, RunDir(run_dir).trials)
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []
    for path, table in zip(paths, (leaderboard(run_dir), trials(run_dir))):
        from_csv = pd.read_csv(path, dtype={"trial_id": str, "parent_trial": str,
                                            "config": str, "rank": "Int64"})
        from_csv["taps"] = from_csv["taps"].fillna("")  # CSV cannot tell "" from NA
        for column in ("flag", "noise"):  # text columns: empty cells read back as NaN
            if column in table:
                table[column] = table[column].astype(object).where(table[column].notna(),
                                                                   float("nan"))
        pd.testing.assert_frame_equal(from_csv, table, check_dtype=False)


def test_tables_already_read_are_written_as_given(run_dir):
    board, table = leaderboard(run_dir).head(1), trials(run_dir).head(2)
    write_leaderboards(run_dir, tables=(board, table))
    assert len(pd.read_csv(RunDir(run_dir).leaderboard)) == 1
    assert len(pd.read_csv(RunDir(run_dir).trials)) == 2


def test_no_trials_gives_header_only_tables(tmp_path):
    write_leaderboards(tmp_path)
    text = RunDir(tmp_path).trials.read_text().strip()
    assert text.startswith("rank,trial_id,config,status,objective,score,flag,n_taps,taps,")
    assert len(text.splitlines()) == 1
    text = RunDir(tmp_path).leaderboard.read_text().strip()
    assert text.startswith("rank,config,status,objective,score,full_budget,")
    assert len(text.splitlines()) == 1
