"""`steward demo --script` runs from an installed wheel, not only from a checkout: the example config, the
migrations and the page's static files travel inside the package."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.support.paths import ROOT


def test_the_demo_script_runs_from_an_installed_wheel(tmp_path):
    wheels, target, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("steward-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # Run outside the checkout, with only the installed copy of bot/ and handlers/ on the path.
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.cli; print(bot.cli.__file__, file=sys.stderr); "
            "sys.exit(bot.cli.main(['demo', '--script']))",
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr.startswith(str(target))
    assert "Steward runs on a copy of examples/config" in run.stdout
    assert "/incident declare Checkout errors" in run.stdout
    assert "[REDACTED:password]" in run.stdout
