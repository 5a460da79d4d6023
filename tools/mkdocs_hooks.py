"""MkDocs hooks for fastmlp's documentation site (mkdocs.yml: `hooks:`).

They generate the pages that are made from other files, at every build:

- index.md from README.md (its links rewritten for the site);
- reference.md: one `::: fastmlp.NAME` block per name in fastmlp.__all__,
  read from python/fastmlp/__init__.py, so a new public name is documented
  as soon as it is exported and a module move does not break the page;
- examples.md: every script in examples/, run with the installed fastmlp,
  with its source and what it printed (a failing example fails the build);
- changelog.md from CHANGELOG.md.

Links from docs/ to files outside it (examples, bench/README.md) are
rewritten to the examples page or to the repository.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.fastmlp")

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/fastmlp/fastmlp"
EXAMPLE_TIMEOUT = 300

_example_pages: dict[str, str] = {}


def public_names() -> list[str]:
    """fastmlp.__all__, read from the source without importing the package."""
    tree = ast.parse((ROOT / "python" / "fastmlp" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [str(ast.literal_eval(elt)) for elt in node.value.elts]  # type: ignore[attr-defined]
    raise RuntimeError("python/fastmlp/__init__.py has no __all__")


def _reference_page() -> str:
    modules = {"callbacks", "datasets", "diagnostics", "ops"}
    names = public_names()
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings of every name in `fastmlp.__all__`. "
        "The [API overview](api.md) lists the same names with the command line, more briefly.",
        "",
    ]
    # Names the package resolves lazily (module __getattr__), which the static
    # reader cannot follow: documented where they are defined.
    lazy = {"to_onnx": "fastmlp.onnx.to_onnx"}
    for name in names:
        if name in modules:
            continue
        lines += [f"::: {lazy.get(name, 'fastmlp.' + name)}", ""]
    for name in names:
        if name in modules:
            lines += [
                f"::: fastmlp.{name}",
                "    options:",
                "      show_root_heading: true",
                "      members_order: source",
                "",
            ]
    return "\n".join(lines)


def _repo_link(target: str) -> str:
    return f"{REPOSITORY}/blob/main/{target}"


def _rewrite_readme_links(markdown: str) -> str:
    def fix(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if target.startswith(("http://", "https://", "#")):
            return match.group(0)
        if target.startswith("docs/"):
            return f"[{text}]({target[len('docs/'):]})"
        if target.rstrip("/") == "examples":
            return f"[{text}](examples.md)"
        return f"[{text}]({_repo_link(target)})"

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", fix, markdown)


def _example_title(source: str, name: str) -> str:
    doc = ast.get_docstring(ast.parse(source)) or name
    return doc.splitlines()[0].rstrip(".")


def _run_example(script: Path) -> tuple[str, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=EXAMPLE_TIMEOUT, cwd=cwd, env=env)
        seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"examples/{script.name} failed:\n{run.stdout}\n{run.stderr}")
    return run.stdout.rstrip(), seconds


def _examples_page() -> str:
    scripts = sorted((ROOT / "examples").glob("*.py"))
    lines = [
        "# Examples",
        "",
        "The scripts in the repository's `examples/` folder, each with what it printed "
        "when this site was built (one thread, the shipped MNIST sample). The test suite "
        "runs every one of them.",
        "",
    ]
    import fastmlp  # the installed package the examples run against

    lines += [f"Output from fastmlp {fastmlp.__version__}.", ""]
    for script in scripts:
        source = script.read_text()
        title = _example_title(source, script.stem)
        output, seconds = _run_example(script)
        log.info("example %s ran in %.1f s", script.name, seconds)
        anchor = script.stem.replace("_", "-")
        _example_pages[script.name] = anchor
        lines += [
            f"## {script.name} {{#{anchor}}}",
            "",
            f"*{title}.*",
            "",
            f"```python title=\"examples/{script.name}\"",
            source.rstrip(),
            "```",
            "",
            "Output:",
            "",
            "```text",
            output or "(nothing)",
            "```",
            "",
        ]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    readme = (ROOT / "README.md").read_text()
    files.append(File.generated(config, "index.md", content=_rewrite_readme_links(readme)))
    files.append(File.generated(config, "reference.md", content=_reference_page()))
    files.append(File.generated(config, "examples.md", content=_examples_page()))
    changelog = (ROOT / "CHANGELOG.md").read_text()
    files.append(File.generated(config, "changelog.md", content=_rewrite_readme_links(changelog)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Links from docs/*.md to ../examples/... and other files outside docs/."""

    def fix(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if not target.startswith("../"):
            return match.group(0)
        path = target[len("../"):]
        if path.rstrip("/") == "examples":
            return f"[{text}](examples.md)"
        if path.startswith("examples/") and Path(path).name in _example_pages:
            return f"[{text}](examples.md#{_example_pages[Path(path).name]})"
        return f"[{text}]({_repo_link(path)})"

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", fix, markdown)
