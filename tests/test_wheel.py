"""The built wheel works on its own: styles and data inside, the dashboard styled from them.

Builds the wheel, installs it (no dependencies) into a fresh virtual environment, and runs
the dashboard headlessly from there against an embedded sandbox, from a directory outside
the checkout. The dependencies come from the interpreter running the tests, whether that is
a virtual environment or not: a .pth line puts its site-packages after the new venv's own
(a path named in a .pth file is added as it is, so the editable install's own .pth, which
would put the checkout on sys.path, is not read). The venv's copy must win, and the
stylesheet must come from the venv's chutes_tui/styles.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REQUIRED = ("chutes_tui/styles/app.tcss", "chutes_tui/core/data/gpus.json")

PROBE = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path

    import chutes_tui
    from textual.color import Color

    from chutes_tui.core.locations import styles
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.options import DashboardOptions
    from chutes_tui.tui.session import embedded_sandbox
    from chutes_tui.tui.theme import HOUSE_THEME
    from chutes_tui.tui.widgets.table import VirtualTable

    async def main():
        session = embedded_sandbox(db_path=Path(sys.argv[1]))
        app = ChutesApp(session, DashboardOptions(refresh_interval=0))
        async with app.run_test(size=(100, 30)):
            deadline = time.monotonic() + 120  # catches a hang; not a timing budget
            screen = app.screen
            title = screen.query_one("#title")
            table = screen.query_one("#table", VirtualTable)
            while table.row_count < 3:  # the rows reached the screen, however slowly
                assert time.monotonic() < deadline, "the chutes never reached the table"
                await asyncio.sleep(0.05)
            return {
                "package": chutes_tui.__file__,
                "sys_path": sys.path,
                "styles_dir": str(styles()),
                "css_path": [str(path) for path in app.css_path],
                "sources": [str(key[0] if isinstance(key, tuple) else key)
                            for key in app.stylesheet.source],
                "title_background": title.styles.background.hex,
                "panel": Color.parse(HOUSE_THEME.panel).hex,
                "table_scrollbar": table.styles.scrollbar_size_vertical,
                "rows": table.row_count,
            }

    print("RESULT " + json.dumps(asyncio.run(main())))
    """
)


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _inherit_site_packages(python: Path) -> None:
    """Let the new venv import what the test interpreter has, after its own packages."""
    inherited = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    Path(target, "_inherited.pth").write_text("".join(f"{path}\n" for path in sorted(inherited)))


def _build_wheel(out: Path) -> Path:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")  # the backend is here: no download
    subprocess.run([*command, str(ROOT)], check=True, timeout=180)
    (wheel,) = out.glob("chutes_tui-*.whl")
    return wheel


def test_wheel_installs_and_styles_the_dashboard(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for required in REQUIRED:
        assert required in names, f"{required} is missing from {wheel.name}"
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert [name for name in names if name.endswith(".dist-info/licenses/LICENSE")], names

    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = _venv_python(venv)
    _inherit_site_packages(python)
    # pip comes from the test interpreter's site-packages; it installs into the venv it runs
    # in, and --ignore-installed keeps it from touching the editable install it can see.
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--ignore-installed",
            "--no-warn-script-location",
            str(wheel),
        ],
        check=True,
        timeout=180,
    )

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUTES", "PYTHON"))}
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    done = subprocess.run(
        [str(python), str(probe), str(tmp_path / "sandbox.db")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))

    site = Path(result["package"]).resolve().parent.parent
    assert Path(result["package"]).resolve().is_relative_to(venv.resolve()), (
        f"chutes_tui came from {result['package']}, not the venv; sys.path: {result['sys_path']}"
    )
    assert not Path(result["package"]).resolve().is_relative_to(ROOT)
    styles = site / "chutes_tui" / "styles"
    assert Path(result["styles_dir"]).resolve() == styles.resolve()
    assert [Path(p).resolve() for p in result["css_path"]] == [(styles / "app.tcss").resolve()]
    loaded = [Path(source).resolve() for source in result["sources"] if source.endswith(".tcss")]
    assert (styles / "app.tcss").resolve() in loaded, result["sources"]
    assert not [path for path in loaded if path.is_relative_to(ROOT)], loaded
    # Rules only app.tcss has: the title bar on the theme's panel colour, a 1-cell scrollbar.
    assert result["title_background"] == result["panel"]
    assert result["table_scrollbar"] == 1
    assert result["rows"] >= 3

    script = venv / ("Scripts/chutes-tui.exe" if os.name == "nt" else "bin/chutes-tui")
    version = subprocess.run(
        [str(script), "--version"], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("chutes-tui ")
