"""A contract that import-linter's own types cannot state, used by .importlinter: outside the app
that owns it, a module may be imported for some of its names only (`User` of apps.accounts.models)."""

import ast
from pathlib import Path
from typing import Any, cast

import grimp
from importlinter import Contract, ContractCheck, fields, output


class ImportedNamesContract(Contract):
    """Modules outside `owner` that import `module` take only `allowed_names` from it.

    Options: module (the module), owner (the package whose modules may import anything from it),
    allowed_names (a list). Names are read from the importing statement in the importer's source,
    so `import module` (everything) is a violation too.
    """

    type_name = "imported_names"

    module = fields.StringField()
    owner = fields.StringField()
    allowed_names = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        # import-linter sets the fields' parsed values on the instance.
        module, owner = cast(str, self.module), cast(str, self.owner)
        allowed = set(cast(list[str], self.allowed_names))
        violations: list[dict[str, Any]] = []
        for importer in sorted(graph.find_modules_that_directly_import(module)):
            if importer == owner or importer.startswith(owner + "."):
                continue
            for detail in graph.get_import_details(importer=importer, imported=module):
                names = _names_imported(importer, int(detail["line_number"]), module)
                if not names <= allowed:
                    violations.append(
                        {"importer": importer, "line": detail["line_number"], "names": sorted(names - allowed)}
                    )
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in check.metadata["violations"]:
            names = ", ".join(violation["names"])
            output.print_error(f"{violation['importer']}:{violation['line']} imports {names} from {self.module}")
            output.new_line()


def _names_imported(importer: str, line: int, module: str) -> set[str]:
    """The names the statement on `line` of the importer takes from `module` ("*" for the whole module)."""
    path = Path(*importer.split("."))
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if getattr(node, "lineno", None) != line:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == module:
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import) and any(alias.name == module for alias in node.names):
            names.add("*")
    return names or {"*"}
