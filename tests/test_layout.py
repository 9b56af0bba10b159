"""The folders are the pipeline: each layer imports only the layers below it, nothing
imports in a cycle, and torch is imported only under accelsim/training/."""

import ast

from conftest import ROOT

PACKAGE = ROOT / "accelsim"
# A layer may import its own modules and those of lower layers (training and sim are
# the two halves, side by side: the trace format in workload is their contract).
LAYERS = {"errors": 0, "defaults": 0, "core": 1, "workload": 2, "training": 3, "sim": 3,
          "report": 4, "studies": 5, "cli": 6, "__init__": 6}


def _modules():
    """{dotted name under accelsim: path}; a package is named by its folder."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _nodes(tree, include_typing):
    """Every node, skipping `if TYPE_CHECKING:` blocks unless include_typing."""
    for node in ast.iter_child_nodes(tree):
        if not include_typing and isinstance(node, ast.If) and \
                getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        yield node
        yield from _nodes(node, include_typing)


def _imports(name, path, include_typing=True):
    """The accelsim modules and third-party top-level names `path` imports, at any depth
    (an import inside a function counts too; those for type checkers only with
    include_typing)."""
    package = name.split(".") if path.name == "__init__.py" and name != "__init__" else \
        name.split(".")[:-1]
    found = set()
    for node in _nodes(ast.parse(path.read_text(), str(path)), include_typing):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
                targets = [module] if node.module else \
                    [".".join([*base, alias.name]) for alias in node.names]
                found.update("accelsim." + t if t else "accelsim" for t in targets)
            else:
                found.add(node.module)
    return found


def _module_of(target, modules):
    """The accelsim module an imported name lives in (None outside accelsim, or for the top
    package itself): `accelsim.sim.config.load_arch` -> `sim.config`."""
    inner = target.partition(".")[2] if target.startswith("accelsim.") else None
    while inner and inner not in modules and "." in inner:  # `from pkg.mod import name`
        inner = inner.rpartition(".")[0]
    return inner if inner in modules else None


def _layer(module):
    return LAYERS[module.split(".")[0]]


def test_no_import_goes_up_the_pipeline():
    modules = _modules()
    upward = []
    for name, path in modules.items():
        for target in _imports(name, path):
            inner = _module_of(target, modules)
            if inner is None:
                continue
            if _layer(inner) > _layer(name) or (
                    _layer(inner) == _layer(name) and inner.split(".")[0] != name.split(".")[0]):
                upward.append(f"{name} imports {inner}")
    assert not upward, upward


def test_only_training_imports_torch():
    importers = sorted(name for name, path in _modules().items()
                       if any(t.split(".")[0] == "torch" for t in _imports(name, path)))
    assert importers and all(name.startswith("training.") for name in importers), importers


def test_no_import_cycles():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target in _imports(name, path, include_typing=False):  # those run
            inner = _module_of(target, modules)
            if inner is not None and inner != name and not name.startswith(inner + "."):
                edges.add(inner)  # a module importing its own package's __init__ is not a cycle
        graph[name] = edges
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_every_module_has_a_layer():
    assert {name.split(".")[0] for name in _modules()} <= set(LAYERS)
    assert (PACKAGE / "py.typed").is_file()
    assert not [p for p in PACKAGE.glob("*.py")
                if p.stem not in ("__init__", "cli", "errors", "defaults")], \
        "a new module belongs in the folder of its stage"
