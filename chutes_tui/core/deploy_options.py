"""The deploy options, declared once: a wizard field and a headless flag are both made from each.

A module of its own so that building the headless parser (every `--help`) stays free of the
deploy flow's imports (the HTTP client and the models).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeployOption:
    """One option: its name in `DeployOptions`, its flag, its help and its value's metavar."""

    name: str
    flag: str
    help: str
    takes: str | None = None  # a value's metavar; None for a yes/no switch


OPTIONS = (
    DeployOption("public", "--public", "make the chute public (needs the permission)"),
    DeployOption("accept_fee", "--accept-fee", "accept the deployment fee shown"),
    DeployOption("logo", "--logo", "an image file to upload as the chute's logo", "FILE"),
)
