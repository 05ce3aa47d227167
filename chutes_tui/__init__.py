"""chutes-tui: a terminal dashboard and headless CLI for the Chutes platform."""

__version__ = "0.1.0"
