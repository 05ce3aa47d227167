"""The README tells the truth a newcomer relies on first: its commands are CI's, its links exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def first_code_block() -> list[str]:
    match = re.search(r"```bash\n(.*?)```", README, re.S)
    assert match, "the README starts with no bash block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_the_first_lines_install_then_test_as_ci_does() -> None:
    install, test = first_code_block()
    assert README.index("```bash") < 40
    assert "venv" in install and "pip install -e '.[dev]'" in install
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install in ci and test in ci, "CI must run the README's two commands as written"


def test_every_relative_link_and_image_exists() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)\)", README)
    local = [target for target in targets if "://" not in target]
    assert any(target.startswith("screenshots/") for target in local)
    missing = [target for target in local if not (ROOT / target).exists()]
    assert not missing, f"the README links to files that do not exist: {missing}"


def test_the_declared_licence_ships() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and project["license-files"] == ["LICENSE"]


def test_the_sdk_hint_is_the_tested_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = project["optional-dependencies"]["sdk"]
    version = pin.removeprefix("chutes==")
    assert f"pipx inject chutes-tui chutes=={version}" in README
