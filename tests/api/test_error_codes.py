"""The error-code catalogue: every code a domain can answer is a member of one ErrorCode enum (its
domain's, or core's CoreCode for the generic and shared ones), spelled once, named as its value, and
described; no domain module writes a code as a bare string."""

from __future__ import annotations

import ast
import importlib
import pathlib
import re

from core.errors import ErrorCode

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOMAINS = [
    "core",
    "patients",
    "community",
    "loyalty",
    "content",
    "messaging",
    "campaigns",
    "care",
    "dashboards",
    "oncall",
    "privacy",
    "social",
    "media",
]


def _enums() -> list[type[ErrorCode]]:
    for domain in DOMAINS:
        importlib.import_module(f"{domain}.errors")
    found: list[type[ErrorCode]] = []
    stack = list(ErrorCode.__subclasses__())
    while stack:
        enum = stack.pop()
        found.append(enum)
        stack.extend(enum.__subclasses__())
    return found


def test_every_code_has_one_spelling_one_home_and_a_description() -> None:
    enums = _enums()
    assert {e.__name__ for e in enums} >= {"CoreCode", "CommunityCode", "LoyaltyCode", "OncallCode", "PatientsCode"}
    homes: dict[str, str] = {}
    for enum in enums:
        for member in enum:
            assert member.name == member.value, f"{enum.__name__}.{member.name} answers {member.value!r}"
            assert re.fullmatch(r"[A-Z][A-Z0-9_]+", member.value), member.value
            assert member.description.strip(), f"{enum.__name__}.{member.name} has no description"
            assert member.value not in homes, f"{member.value} is in {homes.get(member.value)} and {enum.__name__}"
            homes[member.value] = enum.__name__
    assert len(homes) > 200


def _literal_codes(path: pathlib.Path) -> list[str]:
    """Places that set an error code from a string literal instead of an enum member."""
    tree = ast.parse(path.read_text())
    found: list[str] = []
    # Module-level names bound to a string (`UNKNOWN_CODE = "template_unknown_variable"`) count as literals.
    constants = {
        target.id: statement.value.value
        for statement in tree.body
        if isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }

    def literal(node: ast.AST | None, where: str) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {where} {node.value!r}")
        elif isinstance(node, ast.Name) and node.id in constants:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {where} {node.id} = {constants[node.id]!r}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                targets = statement.targets if isinstance(statement, ast.Assign) else []
                if any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                    literal(statement.value, "class code")  # type: ignore[attr-defined]
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            for keyword in node.keywords:
                if keyword.arg == "code":
                    literal(keyword.value, f"{name}(code=)")
            if name == "check" and len(node.args) >= 3:
                literal(node.args[2], "Validator.check")
            if name == "add" and len(node.args) >= 3:  # Validator.add(field, code, message)
                literal(node.args[1], "Validator.add")
            if name in ("FieldIssue", "TemplateIssue") and node.args:
                literal(node.args[0], name)
    return found


def test_no_domain_or_api_module_writes_a_code_as_a_string() -> None:
    found = [
        hit
        for package in (*DOMAINS, "api")
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in _literal_codes(path)
    ]
    assert found == []
