"""Defines `chute`, but it is not a Chute."""

chute = 42
