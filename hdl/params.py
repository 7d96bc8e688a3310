"""Parameter validation shared by the components (raised from ``__init__``)."""

__all__ = ["check_positive_int"]


def check_positive_int(name, value):
    """Raise ``TypeError`` unless ``value`` is an ``int`` (not a bool) of at least 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
