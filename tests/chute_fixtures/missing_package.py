"""Imports a package that does not exist."""

import surely_not_an_installed_package_xyz  # noqa: F401
