"""`chutes-tui paths`: every file location chutes-tui reads or writes."""

from __future__ import annotations

import argparse

from chutes_tui.core.locations import every_location


def print_paths(args: argparse.Namespace) -> int:
    for place in every_location(getattr(args, "config", None)):
        exists = "" if place.path.exists() else "  (not created yet)"
        print(f"{place.label:<18} {place.path}{exists}\n{'':<18} {place.what}")
    return 0
