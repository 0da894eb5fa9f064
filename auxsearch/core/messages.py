"""Messages on one line: a trial's traceback, an exception, a command's error.

Imports nothing heavy: the command line uses it before Keras is loaded.
"""

from __future__ import annotations


def one_line(message: str | None, first: bool = False) -> str:
    """Returns a message that may hold a traceback as one line.

    Keras Tuner keeps a failed trial's whole traceback, and its last line
    says what failed: that line is the message's line. With `first`, a
    message of several lines also keeps its first one, as `first ... last`:
    an error that carries a traceback then says what it is and how it ended.

    Args:
        message: The text, or `None`.
        first: Boolean, whether to keep the first line too. Defaults to False.

    Returns:
        The line, stripped; empty if the message has no text.
    """
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return ""
    if first and len(lines) > 1:
        return f"{lines[0]} ... {lines[-1]}"
    return lines[-1]


def error_line(err: BaseException, first: bool = False, limit: int = 300) -> str:
    """Returns an exception's message as one line, for a message of our own.

    Args:
        err: The exception.
        first: Boolean, whether to keep only its first line (libraries such
            as Keras put the cause there and details below). Defaults to False:
            its lines joined.
        limit: Integer, the most characters kept (longer text ends in "...").

    Returns:
        The line; the exception type's name if it has no text.
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = (lines[0] if first else " ".join(" ".join(lines).split())) if lines else ""
    text = text or type(err).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
