"""Saving one preference keeps the rest of the user's file as they wrote it."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from chutes_tui import config


def save(path: Path, key: str, value: str) -> str:
    config.save_pref(key, value, env={"CHUTES_TUI_CONFIG": str(path)})
    return path.read_text()


def test_a_new_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "config.toml"
    assert save(path, "theme", "nord") == 'theme = "nord"\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_value_is_replaced_where_it_stands(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# top\ntheme = "old"   \nrefresh_interval = 5\n[keys]\ntheme = "x"\n')
    text = save(path, "theme", 'we"ird\\name')
    assert text.splitlines()[1] == 'theme = "we\\"ird\\\\name"'
    loaded = tomllib.loads(text)
    assert loaded["theme"] == 'we"ird\\name' and loaded["keys"] == {"theme": "x"}
    assert text.startswith("# top\n") and loaded["refresh_interval"] == 5


def test_a_missing_key_goes_above_the_first_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.a]\nconfig = "a.ini"\n')
    text = save(path, "theme", "nord")
    assert text == 'theme = "nord"\n[profiles.a]\nconfig = "a.ini"\n'


def test_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save(tmp_path / "config.toml", "a.b", "x")
