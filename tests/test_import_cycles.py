"""No import cycles among fastmlp's modules, and the io layer imported one way only.

Every .py file of the package is parsed with `ast` (nothing is imported to
build the graph) and every import statement counts, including those inside
functions: a lazy import that closes a cycle is still a cycle, it only fails
later. Imports under `if TYPE_CHECKING:` never run and are left out.
Compiled modules (_core, _idx) are leaves: their imports are not read.

Importing a.b.c first imports the packages a and a.b; so an import also
counts as one of each package on the way that the importer is not itself
inside (a module inside a package may import its siblings from the
package's __init__; that is how packages work, not a cycle).
"""

import ast
import importlib.util
import textwrap
from pathlib import Path

import pytest

import fastmlp

PACKAGE_DIR = Path(fastmlp.__file__).parent


# --------------------------------------------------------------- the graph

def module_files(package_dir, package_name):
    """{dotted module name: path} of every .py file under the package."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([package_name, *parts])] = path
    return modules


def _is_package(name, modules):
    return modules.get(name, Path()).name == "__init__.py"


def _exists_as_module(name, modules):
    """A .py module of the tree, or a compiled one the import system can find."""
    if name in modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _is_type_checking_block(node):
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree):
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking_block(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(node, importer, modules):
    """The dotted names of the modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        # Relative to the importer's package (a package's __init__ is its own package).
        base = importer.split(".")
        if not _is_package(importer, modules):
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module
    if source not in modules:
        return [source]  # another package: not part of the graph
    names = []
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        # `from pkg import x` loads the submodule pkg.x when there is one,
        # otherwise it reads an attribute of pkg (whose __init__ runs).
        names.append(submodule if _exists_as_module(submodule, modules) else source)
    return names


def import_graph(package_dir, package_name):
    """{module: set of the package's modules it imports}."""
    modules = module_files(package_dir, package_name)
    graph = {name: set() for name in modules}
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        inside = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 2)}
        for node in _import_nodes(tree):
            for target in _imported_names(node, importer, modules):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    loaded = ".".join(parts[:i])
                    if loaded in modules and loaded not in inside:
                        graph[importer].add(loaded)
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}  # module -> "open" while on the path, "done" once fully explored
    for start in sorted(graph):
        if start in state:
            continue
        path, iterators = [start], [iter(sorted(graph[start]))]
        state[start] = "open"
        while path:
            following = next(iterators[-1], None)
            if following is None:
                state[path.pop()] = "done"
                iterators.pop()
            elif state.get(following) == "open":
                return path[path.index(following):] + [following]
            elif following not in state:
                state[following] = "open"
                path.append(following)
                iterators.append(iter(sorted(graph[following])))
    return None


# --------------------------------------------------------------- fastmlp itself

@pytest.fixture(scope="module")
def graph():
    return import_graph(PACKAGE_DIR, "fastmlp")


def test_the_graph_covers_the_package(graph):
    # A parser that missed the imports would find no cycle anywhere.
    assert {"fastmlp", "fastmlp.model", "fastmlp.io", "fastmlp.io.container",
            "fastmlp.cli"} <= set(graph)
    assert "fastmlp.model" in graph["fastmlp.io.kinds"]
    assert "fastmlp.io" in graph["fastmlp"]
    assert "fastmlp.io" in graph["fastmlp.cli"]  # imported inside functions


def test_no_import_cycle_among_fastmlps_modules(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_package_and_the_command_line_import_io(graph):
    """The models and estimators never import io; io imports them, one way."""
    importers = {module for module, targets in graph.items()
                 if not (module == "fastmlp.io" or module.startswith("fastmlp.io."))
                 and any(t == "fastmlp.io" or t.startswith("fastmlp.io.") for t in targets)}
    assert importers <= {"fastmlp", "fastmlp.cli"}, sorted(importers)


def test_the_file_container_knows_nothing_of_models(graph):
    assert graph["fastmlp.io.container"] <= {"fastmlp.io.errors", "fastmlp.io.json_fields",
                                             "fastmlp._atomic"}
    # and what it shares with the training backups imports nothing of fastmlp
    assert not graph["fastmlp._atomic"] and not graph["fastmlp._jsonvalues"]


# --------------------------------------------------------------- the checker on made-up packages

def _package(tmp_path, files):
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_a_cycle_through_a_lazy_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from . import a\n",
        "a.py": "from .b import helper\n",
        "b.py": "def helper():\n    from . import a\n    return a\n",
    })
    assert find_cycle(import_graph(root, "pkg")) == ["pkg.a", "pkg.b", "pkg.a"]


def test_a_cycle_through_a_subpackage_init_is_found(tmp_path):
    # pkg.model imports pkg.io.fmt, which first runs pkg/io/__init__.py, which imports pkg.model.
    root = _package(tmp_path, {
        "__init__.py": "",
        "model.py": "import pkg.io.fmt\n",
        "io/__init__.py": "from ..model import thing\n",
        "io/fmt.py": "X = 1\n",
    })
    cycle = find_cycle(import_graph(root, "pkg"))
    assert cycle is not None and set(cycle) == {"pkg.model", "pkg.io"}


def test_a_package_importing_its_children_is_not_a_cycle(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from .sub import f\nfrom . import leaf\n",
        "sub/__init__.py": "from .impl import f\n",
        "sub/impl.py": "from ..leaf import g\n\ndef f():\n    return g()\n",
        "leaf.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import sub\n"
                   "def g():\n    return 1\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.sub.impl"] == {"pkg.leaf"}
    assert graph["pkg.leaf"] == set()  # the TYPE_CHECKING import never runs
    assert find_cycle(graph) is None
