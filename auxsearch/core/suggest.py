"""Close matches: the one "did you mean ...?" of every auxsearch message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(value: object, allowed: Iterable[object], n: int = 1,
                  cutoff: float = 0.6) -> list[str]:
    """Returns up to `n` of `allowed` that look like `value`, closest first."""
    return difflib.get_close_matches(str(value), [str(a) for a in allowed], n=n,
                                     cutoff=cutoff)


def did_you_mean(value: object, allowed: Iterable[object], n: int = 1,
                 cutoff: float = 0.6, prefix: str = "") -> str:
    """Returns ` (did you mean 'x'?)` for the closest of `allowed`, or `""`.

    Args:
        value: What was given.
        allowed: What would have been accepted.
        n: Integer, how many matches to name at most.
        cutoff: Float in [0, 1], how alike a match must be.
        prefix: Put before each match, e.g. its table: `'taps.candidates'`.
    """
    close = close_matches(value, allowed, n, cutoff)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(prefix + c) for c in close)}?)"
