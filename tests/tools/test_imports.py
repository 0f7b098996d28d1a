"""The tools package's imports: acyclic inside it, nothing from the layers built on it.

grimp reads every import statement, those inside functions included, so an import moved into a
function to dodge a cycle still counts here.
"""

import grimp
import pytest

LAYERS_ABOVE = ("runs", "approvals", "evals")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("tools", *LAYERS_ABOVE, cache_dir=None)


def tools_modules(graph) -> set[str]:
    return {"tools"} | graph.find_descendants("tools")


def test_no_tools_module_imports_a_layer_above(graph):
    upward = sorted(
        f"{module} imports {imported}"
        for module in tools_modules(graph)
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.partition(".")[0] in LAYERS_ABOVE
    )

    assert upward == []


def test_the_imports_between_tools_modules_have_no_cycle(graph):
    modules = tools_modules(graph)
    edges = {module: graph.find_modules_directly_imported_by(module) & modules for module in modules}

    assert _cycles(edges) == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in edges[module]:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found
