import auxsearch


def test_public_api_is_exported():
    for name in auxsearch.__all__:
        assert getattr(auxsearch, name).__module__.startswith("auxsearch."), name
    assert auxsearch.__all__ == sorted(auxsearch.__all__)
    assert "AuxLossHyperModel" in dir(auxsearch)
