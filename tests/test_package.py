"""Packaging checks: a light top-level import and a napari manifest that npe2 finds.

Both from the installed (editable) distribution and from a freshly built wheel,
so that the ``napari.yaml`` symlink under ``src/napari_sam2`` is known to become
a real file in the wheel.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "napari.yaml"
HEAVY = ("torch", "transformers", "qtpy", "PyQt6", "napari")


def _run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=300)


def test_import_is_light():
    proc = _run_python(f"""
        import json, sys
        import napari_sam2
        heavy = {HEAVY!r}
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
    """)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [], f"`import napari_sam2` imported {loaded}"


def test_manifest_file_validates():
    import npe2

    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "napari-sam2"
    assert manifest.contributions.commands


def test_manifest_from_installed_distribution():
    import npe2

    manifest = npe2.PluginManifest.from_distribution("napari-sam2")
    assert manifest.name == "napari-sam2"
    commands = manifest.contributions.commands or []
    assert commands, "the manifest declares no commands"
    for command in commands:
        module_name, _, attr_path = command.python_name.partition(":")
        assert attr_path, f"{command.id}: python_name {command.python_name!r} has no ':attr'"
        obj = importlib.import_module(module_name)
        for part in attr_path.split("."):
            obj = getattr(obj, part)
        assert callable(obj), f"{command.id}: {command.python_name} is not callable"


def test_wheel_ships_manifest(tmp_path):
    """Build the wheel, check its napari.yaml, install it apart and let npe2 find it there."""
    assert importlib.util.find_spec("hatchling"), "hatchling (in the test extra) builds the wheel"
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheel_dir), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = list(wheel_dir.glob("napari_sam2-*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]

    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("napari_sam2/napari.yaml")  # KeyError if missing
        is_symlink = (info.external_attr >> 16) & 0o170000 == 0o120000
        assert not is_symlink, "napari.yaml is stored in the wheel as a symlink"
        assert zf.read(info) == MANIFEST.read_bytes()
        entry_points = zf.read(f"napari_sam2-{wheel.name.split('-')[1]}.dist-info/entry_points.txt")
        assert b"napari.manifest" in entry_points
        bundled = REPO / "src" / "napari_sam2" / "_weights" / "demo"
        for name in ("config.json", "model.safetensors"):  # the bundled demo model
            assert zf.read(f"napari_sam2/_weights/demo/{name}") == (bundled / name).read_bytes()

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q",
         "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = site / "napari_sam2" / "napari.yaml"
    assert installed.is_file() and not installed.is_symlink()

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = _run_python("""
        import json
        from importlib import metadata
        import npe2

        loaded = []
        original = npe2.PluginManifest.from_file.__func__

        def from_file(cls, path):
            loaded.append(str(path))
            return original(cls, path)

        npe2.PluginManifest.from_file = classmethod(from_file)
        manifest = npe2.PluginManifest.from_distribution("napari-sam2")
        import napari_sam2
        print(json.dumps({
            "name": manifest.name,
            "files": loaded,
            "dist": str(metadata.distribution("napari-sam2")._path),
            "module": napari_sam2.__file__,
        }))
    """, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["name"] == "napari-sam2"
    site_real = site.resolve()
    assert result["files"], "npe2 did not read a manifest file"
    paths = {"distribution": result["dist"], "module": result["module"]}
    paths.update({f"manifest {i}": f for i, f in enumerate(result["files"])})
    for what, value in paths.items():
        assert Path(value).resolve().is_relative_to(site_real), f"{what} {value} is outside {site}"
