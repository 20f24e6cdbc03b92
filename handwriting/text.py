"""How values that users send appear in messages and logs: cut short, so a 100,000-character argument is
never echoed or logged whole."""

from __future__ import annotations


def shorten(value, limit: int = 40) -> str:
    """`repr`-like text of `value`, at most about `limit` characters (with how much was cut)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"
