"""bench.profile: its hooks name what the package has, and a missing one stops it."""

from __future__ import annotations

import pytest

from bench import profile


def test_every_hook_names_a_function_the_package_has():
    assert profile.missing_hooks() == []


def test_a_renamed_function_stops_the_profile_and_names_it(monkeypatch):
    monkeypatch.setattr(profile, "HOOKS", [*profile.HOOKS,
                                           ("auxsearch.search.run", "Search.gone", "x")])
    with pytest.raises(SystemExit, match="auxsearch.search.run.Search.gone"):
        profile.install(profile.Clock())
