"""The one idempotency rule of the fixes: each applies once per process."""

_applied = set()


def apply_fix(fix) -> bool:
    """Apply one fix module (its ``apply()``) unless it was applied already.

    Returns:
        bool: whether it changed something now.
    """
    if fix.__name__ in _applied:
        return False
    _applied.add(fix.__name__)
    return fix.apply()
