"""The studio ships in the wheel: a wheel built from the repository (its build hook
reuses the studio ``make web`` built) and one built from the sdist on a machine
without Node carry the studio's page, scripts and Monaco workers, and the daemon's
code finds and serves them once installed; with neither Node nor a built studio the
build stops with one line saying what to do."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STUDIO = "encounters_bridge/studio_dist"


def pip_wheel(source: Path, out: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``pip wheel -v`` of ``source`` offline, with the build backend of this venv:
    its exit code and output (the build hook's included)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def build_wheel(source: Path, out: Path, env: dict[str, str] | None = None) -> Path:
    code, output = pip_wheel(source, out, env)
    assert code == 0, output
    (wheel,) = out.glob("ai_encounters-*.whl")
    return wheel


def studio_files(names: list[str], prefix: str = "") -> set[str]:
    start = f"{prefix}{STUDIO}/"
    return {n[len(start) :] for n in names if n.startswith(start)}


def assert_complete_studio(files: set[str]) -> None:
    """index.html, and every script and stylesheet it loads, and Monaco's workers."""
    assert "index.html" in files
    assets = {f for f in files if f.startswith("assets/")}
    assert any(re.fullmatch(r"assets/editor\.worker-[\w-]+\.js", f) for f in assets), assets
    assert any(re.fullmatch(r"assets/json\.worker-[\w-]+\.js", f) for f in assets), assets
    assert any(re.fullmatch(r"assets/index-[\w-]+\.js", f) for f in assets), assets


def test_the_wheel_ships_the_studio_and_the_installed_package_serves_it(tmp_path: Path) -> None:
    wheel = build_wheel(ROOT, tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        index = z.read(f"{STUDIO}/index.html").decode()
    files = studio_files(names)
    assert_complete_studio(files)
    loaded = re.findall(r'(?:src|href)="/studio/([^"]+)"', index)
    assert loaded and all(f in files for f in loaded), (loaded, files)
    assert not any("node_modules" in n for n in names)

    # installed (not the editable checkout): the package finds its studio and serves it
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(site), str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    worker = next(f for f in files if f.startswith("assets/json.worker-"))
    probe = f"""
import json, importlib.resources
import encounters_bridge
from fastapi import FastAPI
from fastapi.testclient import TestClient
from encounters_bridge.studio import DIST, mount_studio
app = FastAPI()
mount_studio(app)
client = TestClient(app)
page, script = client.get("/studio/"), client.get("/studio/{worker}")
print(json.dumps({{
    "module": encounters_bridge.__file__,
    "dist": str(DIST),
    "resource": importlib.resources.files("encounters_bridge")
        .joinpath("studio_dist/index.html").is_file(),
    "page": [page.status_code, page.text],
    "worker": [script.status_code, script.headers["content-type"], len(script.content)],
}}))
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["module"]).is_relative_to(site)
    assert Path(found["dist"]).is_relative_to(site)
    assert found["resource"] is True
    assert found["page"] == [200, index]
    status, kind, size = found["worker"]
    assert status == 200 and "javascript" in kind and size > 10_000


def test_the_sdist_carries_web_and_builds_a_wheel_without_node(tmp_path: Path) -> None:
    out = tmp_path / "sdist"
    make_sdist = f"from hatchling.build import build_sdist; print(build_sdist({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", make_sdist],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sdist = out / done.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "src", filter="data")
    top = names[0].split("/")[0]
    inside = {n[len(top) + 1 :] for n in names}
    assert {"hatch_build.py", "web/package.json", "web/package-lock.json", "web/index.html",
            "web/vite.config.ts", "web/src/App.tsx"} <= inside  # fmt: skip
    assert not any("node_modules" in n for n in inside)
    assert_complete_studio(studio_files(sorted(inside), "bridge/"))

    # a machine without Node builds the wheel from the studio the sdist carries
    unpacked = tmp_path / "src" / top
    no_node = {**os.environ, "PATH": str(BIN)}
    wheel = build_wheel(unpacked, tmp_path / "wheels", env=no_node)
    with zipfile.ZipFile(wheel) as z:
        assert_complete_studio(studio_files(z.namelist()))

    # web/ edited there: the studio as last built ships, with a warning
    (unpacked / "web" / "src" / "App.tsx").touch()
    code, output = pip_wheel(unpacked, tmp_path / "stale", env=no_node)
    assert code == 0, output
    assert "web/ changed since the studio was built and npm is not on PATH" in output

    # without a built studio and without Node: one line saying what to do
    studio = unpacked / "bridge" / STUDIO
    for f in sorted(studio.rglob("*"), reverse=True):
        f.rmdir() if f.is_dir() else f.unlink()
    code, output = pip_wheel(unpacked, tmp_path / "none", env=no_node)
    assert code != 0
    assert (
        "the studio (web/) is not built and npm is not on PATH: install Node.js 20+ with npm, "
        "or run `make web` where Node is, then build again"
    ) in output
    assert not list((tmp_path / "none").glob("*.whl"))
