import pytest

from auxsearch.core.messages import error_line, one_line

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


def test_an_exception_on_one_line():
    assert error_line(ValueError("two\n  lines")) == "two lines"
    assert error_line(ValueError("cause\ndetails")) == "cause details"
    assert error_line(ValueError("cause\ndetails"), first=True) == "cause"
    assert error_line(EOFError()) == "EOFError"
    assert error_line(ValueError("x" * 400)) == "x" * 297 + "..."
