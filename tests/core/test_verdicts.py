"""The verdict vocabulary and confirm's default seed limit: one source for both."""

import inspect

from auxsearch.confirmation import run, sequential
from auxsearch.core import verdicts


def test_the_words_are_distinct_and_the_claims_among_them():
    assert len(set(verdicts.VERDICTS)) == len(verdicts.VERDICTS) == 5
    assert set(verdicts.CLAIMS) == {"better", "worse"} <= set(verdicts.VERDICTS)
    assert verdicts.NOT_SETTLED == "not settled"


def test_the_default_seed_limit_is_read_from_one_place():
    from auxsearch.cli.main import _parser

    seeds = inspect.signature(run.confirm).parameters["seeds"].default
    assert run.SEEDS == seeds == verdicts.SEEDS
    assert _parser().parse_args(["confirm", "somewhere"]).seeds == verdicts.SEEDS
    assert sequential.check_seeds(verdicts.SEEDS) == verdicts.SEEDS
