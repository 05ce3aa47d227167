"""The house theme: warm orange on deep blue-grey, readable on dark terminals."""

from __future__ import annotations

from textual.theme import Theme

HOUSE_THEME = Theme(
    name="chutes",
    primary="#F97316",
    secondary="#38BDF8",
    accent="#A78BFA",
    warning="#EAB308",
    error="#EF4444",
    success="#22C55E",
    foreground="#E5E7EB",
    background="#0E1117",
    surface="#151A23",
    panel="#1D2430",
    dark=True,
)
