"""An import-linter contract type: no module imports a `_private` name from another module.

A leading underscore says "this module's business"; importing it elsewhere couples two modules
through what one of them may change freely. Read from the source (every `from X import _name`,
relative imports resolved), because the import graph keeps modules, not names. Dunder names and
a package's own submodules are allowed.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class PrivateNamesContract(Contract):
    type_name = "private_names"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        violations = []
        for package in self.packages:  # type: ignore[attr-defined]
            for module, path in _modules(package):
                violations += _private_imports(module, path, graph.modules)
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, line, imported, name in check.metadata["violations"]:
            output.print_error(f"{importer}:{line} imports {name} from {imported}", bold=False)
            output.new_line()


def _modules(package: str):
    spec = importlib.util.find_spec(package)
    root = Path(spec.origin).parent
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _private_imports(module: str, path: Path, known_modules: set[str]) -> list[tuple]:
    found = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
            continue
        imported = _absolute(module, is_package, node.level, node.module)
        for alias in node.names:
            name = alias.name
            private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
            if private and imported != module and f"{imported}.{name}" not in known_modules:
                found.append((module, node.lineno, imported, name))
    return found


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join([*base, name] if name else base)
