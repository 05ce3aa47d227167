"""Raises at import time."""


def explode() -> None:
    raise RuntimeError("fixture exploded on purpose")


explode()
