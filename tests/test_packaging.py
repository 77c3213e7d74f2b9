"""What `pip install .` (and so the Docker image, which installs nothing else) gives: a wheel
whose every module imports and whose `rapport` command runs, away from the source tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.conftest import ROOT

# The project's dependencies come from the development venv (installing them again would fetch
# gigabytes); only the project itself comes from the wheel. Lines of a .pth are added to the path,
# but the .pth files in them (the development venv's editable install of the source tree) are not.
_DEPENDENCIES = sysconfig.get_paths()["purelib"]


def _source_copy(to: Path) -> Path:
    """The files git would check out (tracked, or new and not ignored): what a clean clone builds."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    return to


def _modules(wheel: Path) -> list[str]:
    names = []
    for name in zipfile.ZipFile(wheel).namelist():
        if name.endswith(".py") and ".dist-info/" not in name:
            module = name.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
            names.append(module)
    return sorted(names)


def test_the_wheel_installs_alone_and_every_module_imports(tmp_path: Path) -> None:
    """Built from a clean copy and installed into a fresh venv, the wheel holds every module the
    code imports (the Docker image once lacked `knowledge/`), its data files (definitions,
    rubrics, migrations, templates) and a working `rapport` command."""
    source = _source_copy(tmp_path / "src")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", "dist", "."],
        cwd=source,
        check=True,
    )
    (wheel,) = (source / "dist").glob("rapport-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(_DEPENDENCIES + "\n")
    modules = _modules(wheel)
    assert {"knowledge.ingest", "worker", "rapport.cli", "dashboard.app"} <= set(modules)
    check = (
        "import importlib, pathlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert pathlib.Path(module.__file__).is_relative_to({str(site)!r}), module.__file__\n"
        "from rapport.settings import Settings\n"
        "settings = Settings.from_env({})\n"
        "assert sorted(p.name for p in settings.statechart_dir.glob('*.yaml')), settings.statechart_dir\n"
        "assert sorted(p.name for p in settings.rubric_dir.glob('*.yaml')), settings.rubric_dir\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    imported = subprocess.run(
        [str(python), "-c", check, *modules], cwd=elsewhere, capture_output=True, text=True, timeout=300
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    helped = subprocess.run(
        [str(venv / "bin" / "rapport"), "--help"], cwd=elsewhere, capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "statechart" in helped.stdout and "dashboard" in helped.stdout


def test_the_docker_image_installs_the_package_from_one_copy() -> None:
    """The image copies the build context once (what .dockerignore leaves: no venv, state or
    git) and installs it as the test above does, so it has every module the wheel has."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copies = [line for line in dockerfile.splitlines() if line.startswith("COPY")]
    assert copies == ["COPY . /src"], copies
    assert "pip install --no-cache-dir /src" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".state", ".git"} <= set(ignored)
