"""The tools' test scripts' shared assertion (not shipped: tests only)."""


def raises(fn, *needles):
    """fn() must raise ValueError whose message contains every needle; returns the message."""
    try:
        fn()
    except ValueError as e:
        for n in needles:
            assert n in str(e), f"{n!r} not in error: {e}"
        return str(e)
    raise AssertionError(f"no ValueError (wanted {needles})")
