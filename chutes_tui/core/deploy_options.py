"""The deploy options, declared once: a wizard field and a headless flag are both made from each.

A module of its own so that building the headless parser (every `--help`) stays free of the
deploy flow's imports (the HTTP client and the models).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass


def usd(text: str) -> float:
    """A dollar amount typed by a user: a finite number, zero or more."""
    try:
        amount = float(text.strip().removeprefix("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD") from None
    if not math.isfinite(amount) or amount < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD")
    return amount


@dataclass(frozen=True)
class DeployOption:
    """One option: its name in `DeployOptions`, its flag, its help and its value's metavar."""

    name: str
    flag: str
    help: str
    takes: str | None = None  # a value's metavar; None for a yes/no switch
    parse: Callable[[str], object] = str  # the value from its text (raises on a bad one)
    wizard: bool = True  # also a wizard field (the wizard asks about fees on screen instead)


OPTIONS = (
    DeployOption("public", "--public", "make the chute public (needs the permission)"),
    DeployOption("accept_fee", "--accept-fee", "accept the deployment fee shown", wizard=False),
    DeployOption("logo", "--logo", "an image file to upload as the chute's logo", "FILE"),
    DeployOption(
        "max_fee",
        "--max-fee",
        "with --accept-fee: accept the server's fee if it is at most USD, even when it differs"
        " from the estimate; refuse a higher one (exit 6, nothing charged)",
        "USD",
        parse=usd,
        wizard=False,
    ),
)
