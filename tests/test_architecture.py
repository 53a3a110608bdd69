"""The folder layout holds: layers import downward only, no cycles, short files, no global side effects."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "napari_sam2"
MAX_LINES = 400


def test_import_contracts_hold():
    """`lint-imports` (import-linter) checks the contracts in pyproject.toml: layers, GUI-free
    headless layers, inference never importing training, transformers only in core/_hf_compat.py
    and core/models/."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    proc = subprocess.run([exe, "--config", str(REPO / "pyproject.toml")], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of the napari_sam2 modules ``path`` imports, at any depth (functions too)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("napari_sam2"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("napari_sam2"))
    return found


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def test_no_import_cycles_between_modules_including_function_level_imports():
    modules = _modules()
    graph = {name: {m for m in _imports(path, name) if m in modules and m != name}
             for name, path in modules.items()}
    # a package's __init__ re-exporting its modules is not a cycle with them
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    # the walk sees the package and its function-level relative imports (else it checks nothing)
    assert "napari_sam2.core.session" in graph["napari_sam2.workflows.segment"]
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)


def test_no_source_file_is_longer_than_the_limit():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"files over {MAX_LINES} lines: {long}"


def test_building_a_random_model_leaves_torchs_global_generator_alone():
    import torch

    from napari_sam2.core.models.configs import tiny_config
    from napari_sam2.core.models.random import build_random_model

    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    first = build_random_model(tiny_config(64), seed=0)
    assert torch.equal(torch.rand(3), expected)  # the caller's stream continues untouched
    second = build_random_model(tiny_config(64), seed=0)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)  # and the seed alone decides the weights
    third = build_random_model(tiny_config(64), seed=1)
    assert any(not torch.equal(a, b) for a, b in zip(first.parameters(), third.parameters(), strict=True))


def test_public_names_stay_importable_where_documented():
    import napari_sam2
    import napari_sam2.core as core

    for name in ("FrameSource", "LabelSink", "Session", "load_model", "open_label_sink"):
        assert getattr(napari_sam2, name) is getattr(core, name)
    for name in core.__all__:
        assert getattr(core, name) is not None
    from napari_sam2.core.frames import InputError as from_frames
    from napari_sam2.core.models import AUTO, REGISTRY, load_model  # noqa: F401

    assert from_frames is core.InputError


def test_every_entry_point_defaults_to_the_same_model():
    import inspect

    from napari_sam2._qt.controller import Sam2Controller
    from napari_sam2.cli.main import build_parser
    from napari_sam2.core.models import AUTO, load_model
    from napari_sam2.core.session import Session
    from napari_sam2.workflows import segment_file

    assert inspect.signature(Session.from_array).parameters["model"].default == AUTO
    assert inspect.signature(load_model).parameters["name_or_folder"].default == AUTO
    assert inspect.signature(segment_file).parameters["model"].default == AUTO
    assert inspect.signature(Sam2Controller.start).parameters["model"].default == AUTO
    args = build_parser().parse_args(["segment", "a.tif", "--prompts", "p.json", "--out", "o.zarr"])
    assert args.model == AUTO
    args = build_parser().parse_args(["evaluate", "clicks", "a.tif", "--truth", "t.tif"])
    assert args.model == AUTO


def test_core_errors_speak_api_terms_and_the_cli_rewords_them():
    from napari_sam2.cli.options import OPTION_WORDS
    from napari_sam2.core.errors import InputError

    err = InputError("output x.zarr already exists; choose another name or {fix}", fix=("overwrite", True))
    assert str(err) == "output x.zarr already exists; choose another name or pass overwrite=True"
    assert err.worded(OPTION_WORDS).endswith("or pass --overwrite")
    err = InputError("no GPU", fix=("device", "cpu"))
    assert str(err) == "no GPU; pass device='cpu'" and err.worded(OPTION_WORDS) == "no GPU; pass --device cpu"
    for path in (PACKAGE / "core").rglob("*.py"):  # no command-line option in the core's messages
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "InputError":
                text = ast.unparse(node.args[0]) if node.args else ""
                assert " --" not in text and "(--" not in text, f"{path.name}: {text}"
