"""The package's layer rules: only `tui/` imports Textual; client and core stay server-free."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chutes_tui"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_outside(folder: str) -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if folder not in path.relative_to(PACKAGE).parts]


def test_only_the_tui_package_imports_textual():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in modules_outside("tui")
        if any(name == "textual" or name.startswith("textual.") for name in imported_modules(path))
    ]
    assert offenders == []


@pytest.mark.parametrize("layer", ["client", "core"])
def test_client_and_core_never_import_the_sandbox_or_tui(layer):
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / layer).rglob("*.py")
        if any(
            name.startswith(("chutes_tui.sandbox", "chutes_tui.tui", "fastapi", "uvicorn"))
            for name in imported_modules(path)
        )
    ]
    assert offenders == []


def test_sandbox_shares_only_models_and_core_with_the_client():
    allowed = ("chutes_tui.client.models", "chutes_tui.core", "chutes_tui.sandbox")
    offenders = sorted(
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / "sandbox").rglob("*.py")
        for name in imported_modules(path)
        if name.startswith("chutes_tui") and not name.startswith(allowed)
    )
    assert offenders == []


def test_cli_import_loads_neither_textual_nor_the_server():
    probe = (
        "import sys, chutes_tui.cli, chutes_tui.core.pricing, chutes_tui.client.models;"
        "heavy = [m for m in ('textual', 'fastapi', 'uvicorn', 'chutes_tui.sandbox.app')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
