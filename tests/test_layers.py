"""The import rules of the layout (issue 22; DESIGN.md section 1).

Layers, lowest first: ``spaces`` -> ``tables`` -> {``surrogate``, ``strategies``,
``bench.harness``} -> {``bench.sim``, ``bench.oneshot`` (torch)} -> ``bench.cli``;
``bench.tracking`` (MLflow) and ``bench._children`` (pool workers that die with
their parent) are used by the harness, the simulator and the one-shot track and import
no other nasrepro layer. Nothing imports upward,
``bench.sim`` reaches the torch harness only inside functions, and the torch-free layers
load no torch.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nasrepro.bench
import nasrepro.spaces
import nasrepro.strategies
import nasrepro.surrogate
import nasrepro.tables

#: What each layer may import (module-level or inside functions), by package prefix.
ALLOWED: dict[str, tuple[str, ...]] = {
    "nasrepro.spaces": ("nasrepro.spaces",),
    # the contract tests shipped for users' spaces: the compile test reaches the torch
    # compiler and one test the CLI, inside the tests only (importing it loads no torch)
    "nasrepro.spaces.testing": ("nasrepro.spaces", "nasrepro.bench.harness", "nasrepro.bench.cli"),
    "nasrepro.tables": ("nasrepro.spaces", "nasrepro.tables"),
    "nasrepro.surrogate": ("nasrepro.spaces", "nasrepro.tables", "nasrepro.surrogate"),
    "nasrepro.strategies": ("nasrepro.spaces", "nasrepro.tables", "nasrepro.strategies"),
    "nasrepro.bench.tracking": ("nasrepro.bench.tracking",),
    "nasrepro.bench._children": (),
    "nasrepro.bench.harness": (
        "nasrepro.spaces",
        "nasrepro.tables",
        "nasrepro.bench.harness",
        "nasrepro.bench.tracking",
        "nasrepro.bench._children",
    ),
    "nasrepro.bench.sim": (
        "nasrepro.spaces",
        "nasrepro.tables",
        "nasrepro.surrogate",
        "nasrepro.strategies",
        "nasrepro.bench.harness",  # lazily only: see test_sim_reaches_the_harness_lazily
        "nasrepro.bench.sim",
        "nasrepro.bench.tracking",
        "nasrepro.bench._children",
    ),
    "nasrepro.bench.oneshot": (  # beside bench.sim, never importing it (the CLI joins them)
        "nasrepro.spaces",
        "nasrepro.tables",
        "nasrepro.bench.harness",
        "nasrepro.bench.oneshot",
        "nasrepro.bench.tracking",
        "nasrepro.bench._children",
    ),
    "nasrepro.bench.cli": ("nasrepro",),
    # bench/__init__.py: light re-exports only; _cpu_isa sets torch's CPU caps before
    # torch loads, so it is torch-free and below everything that trains
    "nasrepro.bench": ("nasrepro.spaces", "nasrepro.bench._cpu_isa"),
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for pkg in (nasrepro.spaces, nasrepro.tables, nasrepro.surrogate, nasrepro.strategies):
        root = Path(pkg.__file__).parent
        out += [(f"{pkg.__name__}.{p.stem}", p) for p in sorted(root.glob("*.py"))]
    broot = Path(nasrepro.bench.__file__).parent
    for p in sorted(broot.rglob("*.py")):
        rel = p.relative_to(broot).with_suffix("")
        out.append(("nasrepro.bench." + ".".join(rel.parts), p))
    return out


def _layer(module: str) -> str:
    return max((k for k in ALLOWED if module == k or module.startswith(k + ".")), key=len)


def _imports(path: Path, module: str = "") -> list[tuple[str, bool]]:
    """``(imported nasrepro module, at module level)`` for each import in ``path`` (the
    file of ``module``): relative imports resolved, and ``importlib.import_module`` of a
    literal name counted (an audit's mutant hid ``from ..sim import _runner`` in
    ``bench.oneshot``)."""
    tree = ast.parse(path.read_text())
    package = module.rpartition(".")[0]  # a package's own file is named ``pkg.__init__``
    top = {id(n) for n in tree.body}
    for node in tree.body:  # imports under `if TYPE_CHECKING:` do not run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            top |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom):  # relative: from the module's package
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            names = [base] if node.module else [f"{base}.{a.name}" for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("importlib.import_module", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif (  # a lazy "nasrepro.pkg.module:attr" reference, imported on first use
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"nasrepro(\.\w+)+:\w+", node.value)
        ):
            names = [node.value.partition(":")[0]]
        else:
            continue
        out += [(n, id(node) in top) for n in names if n.startswith("nasrepro")]
    return out


MODULES = _modules()


def test_the_layout_is_found() -> None:
    layers = {_layer(m) for m, _ in MODULES}
    assert layers == set(ALLOWED), set(ALLOWED) - layers


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_down(module: str, path: Path) -> None:
    allowed = ALLOWED[_layer(module)]
    bad = [
        name
        for name, _ in _imports(path, module)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert not bad, f"{module} imports {bad}; its layer may import only {allowed}"


def test_sim_reaches_the_harness_lazily() -> None:
    eager = [
        (module, name)
        for module, path in MODULES
        if _layer(module) == "nasrepro.bench.sim"
        for name, at_top in _imports(path, module)
        if at_top and name.startswith("nasrepro.bench.harness")
    ]
    assert not eager, f"bench.sim imports the torch harness at module level: {eager}"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "module", ["nasrepro.spaces", "nasrepro.tables", "nasrepro.strategies", "nasrepro.bench.sim"]
)
def test_torch_free_layers_load_no_torch(module: str) -> None:
    out = _python(f"import sys, {module}; print('torch' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", f"importing {module} loaded torch"


def test_harness_trains_without_mlflow_and_xgboost() -> None:
    """How a GPU machine without them runs it: tracking is optional for the harness."""
    code = (
        "import sys\n"
        "sys.modules['mlflow'] = None\n"  # makes `import mlflow` raise ImportError
        "sys.modules['xgboost'] = None\n"
        "from nasrepro.bench.harness import train\n"
        "r = train('|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|',"
        " 'synthetic-smoke', seed=0)\n"
        "print(r.n_epochs, len(r.history['valid_acc']))\n"
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "2"]
