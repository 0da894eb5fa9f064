import pytest

from auxsearch.results.messages import one_line

TRACEBACK = "Traceback (most recent call last):\n  File 'x.py'\n\n    ValueError: boom  \n"


@pytest.mark.parametrize("message, first, line", [
    (TRACEBACK, False, "ValueError: boom"),
    (TRACEBACK, True, "Traceback (most recent call last): ... ValueError: boom"),
    ("  one line  ", True, "one line"),
    ("", False, ""),
    (None, True, ""),
])
def test_a_message_becomes_one_line(message, first, line):
    assert one_line(message, first=first) == line
