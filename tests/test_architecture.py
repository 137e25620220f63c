"""The layering: no import cycle among gankit's modules, counting imports inside functions."""
import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def import_graph() -> dict[str, set[str]]:
    """module -> the gankit modules it imports anywhere (top level or inside functions)."""
    paths = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (SRC / "gankit").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gankit":
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    graph[name].add(full if full in paths else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name.split(".")[0] == "gankit")
        graph[name] = {t for t in graph[name] if t in paths and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_gankit_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "gankit.sampling" in graph["gankit.training.runner"]
    assert cycles(graph) == []


def deferred_imports() -> list[tuple[str, int, str]]:
    """(file, line, source) of every import of a gankit module inside a function."""
    found = []
    for path in sorted((SRC / "gankit").rglob("*.py")):
        lines = path.read_text().splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gankit")) or (
                            isinstance(node, ast.Import) and any(a.name.startswith("gankit") for a in node.names)):
                        found.append((path.name, node.lineno, lines[node.lineno - 1].strip()))
    return sorted(set(found))


def test_every_import_inside_a_function_says_why():
    """A gankit import is deferred only to keep `import gankit`/`gankit --help` torch-free or to
    break a cycle, and says so beside it; anything else belongs at the top of its module."""
    found = deferred_imports()
    assert found, "the walker finds the CLI's deferred imports"
    unexplained = [f"{name}:{line}: {source}" for name, line, source in found if "# deferred: " not in source]
    assert unexplained == []


def torch_loaded_after(code: str) -> bool:
    """Whether running ``code`` in a fresh interpreter imports torch."""
    probe = f"import sys\n{code}\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=SRC.parent)
    return out.stdout.strip().splitlines()[-1] == "True"


def test_the_probe_sees_torch():
    assert torch_loaded_after("import torch")


def test_import_gankit_and_every_help_page_are_torch_free():
    """`import gankit`, `gankit --help` and each command's --help: torch (2.5 s to import) never loads."""
    assert not torch_loaded_after("import gankit")
    helps = ("import argparse, gankit.cli as cli\n"
             "parser = cli.build_parser(); parser.format_help()\n"
             "for action in parser._subparsers._group_actions:\n"
             "    for sub in action.choices.values(): sub.format_help()")
    assert not torch_loaded_after(helps)
