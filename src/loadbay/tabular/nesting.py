"""How deep a decoded JSON value is nested, found without recursion.

Python's JSON decoders recurse once per level, so a document nested 100,000 deep ends
in RecursionError (or worse in a recursive walk of its result); values are checked
against a small limit instead, iteratively, and a decoder's RecursionError is reported
as the same limit.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MAX_DEPTH = 64


def deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests more than `limit` levels of objects and arrays (an object
    holding a scalar is one level)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def too_deep(limit: int, what: str = "JSON") -> str:
    return f"{what} is nested deeper than the limit of {limit} levels"
