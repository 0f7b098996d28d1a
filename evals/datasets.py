"""Suites in and out of files: promptfoo's YAML (`tests:` with `description`, `vars`, `assert`,
`threshold`, and `defaultTest`) and JSON Lines (one case a line, in the model's field names).

In YAML a case's message is `vars.message` (promptfoo's prompt would be "{{message}}") and its
structured input `vars.input`; what promptfoo has no word for (tags, expected, scripted approval
decisions, recorded tool results, the case's longer description) goes in the test's `metadata`.
An import is checked whole before anything is written: one bad case, or one assertion type we do
not run, and nothing is imported.
"""

from __future__ import annotations

import json

import yaml
from django.db import transaction
from django.db.models import Max

from agentops.agents.models import Agent
from agentops.audit.services import Actor, audit_record

from .assertions import assertions_validate
from .errors import EvalError
from .models import EvalCase, EvalSuite
from .selectors import suite_get

FORMATS = ("yaml", "jsonl")
METADATA_FIELDS = ("tags", "expected", "approval_decisions", "tool_results", "description")
TEST_KEYS = {"description", "vars", "assert", "threshold", "metadata"}
JSONL_KEYS = {"name", "description", "message", "input", "vars", "expected", "assertions", "tags", "threshold",
              "approval_decisions", "tool_results"}
DECISIONS = ("approve", "reject")


def suite_import(*, tenant, name: str, agent_slug: str, text: str, format: str,
                 actor: Actor = Actor.system("eval import")) -> tuple[EvalSuite, int]:
    """Add the file's cases (and defaults) to the tenant's suite `name`, created for the agent if
    it does not exist; returns (suite, cases added). One transaction, audited as the API's writes
    are (`eval_suite.created`, `eval_case.added`); raises EvalError."""
    agent = Agent.objects.filter(tenant=tenant, slug=agent_slug).first()
    if agent is None:
        raise EvalError("unknown_agent", f"No agent {agent_slug!r} in tenant {tenant.slug}.")
    parsed = _parse_yaml(text) if format == "yaml" else _parse_jsonl(text)
    suite = suite_get(tenant=tenant, name=name)
    if suite is not None and suite.agent_id != agent.pk:
        raise EvalError("suite_agent_mismatch", f"Suite {name!r} evaluates agent {suite.agent.slug}, not {agent_slug}.")
    with transaction.atomic():
        if suite is None:
            suite = EvalSuite.objects.create(tenant=tenant, agent=agent, name=name)
            audit_record(tenant=tenant, action="eval_suite.created", actor=actor, target=suite,
                         data={"name": name, "agent": agent.slug})
        suite.description = parsed["description"] or suite.description
        suite.default_assertions = [*suite.default_assertions, *parsed["default_assertions"]]
        suite.default_vars = {**suite.default_vars, **parsed["default_vars"]}
        suite.save()
        start = (suite.cases.aggregate(last=Max("position"))["last"] or 0) + 1
        added = EvalCase.objects.bulk_create(EvalCase(suite=suite, position=start + index, **case)
                                             for index, case in enumerate(parsed["cases"]))
        audit_record(tenant=tenant, action="eval_case.added", actor=actor, target=suite,
                     data={"suite": suite.name, "cases": [case.name for case in added], "imported": format})
    return suite, len(parsed["cases"])


def _parse_yaml(text: str) -> dict:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvalError("invalid_file", f"not valid YAML: {exc}") from None
    if isinstance(document, list):
        document = {"tests": document}
    if not isinstance(document, dict) or not isinstance(document.get("tests"), list):
        raise EvalError("invalid_file", "expected a promptfoo file with a `tests:` list")
    default = document.get("defaultTest") or {}
    if not isinstance(default, dict):
        raise EvalError("invalid_file", "defaultTest must be a mapping")
    return {
        "description": str(document.get("description") or ""),
        "default_assertions": assertions_validate(default.get("assert") or [], where="defaultTest.assert"),
        "default_vars": _mapping(default.get("vars"), "defaultTest.vars"),
        "cases": [_case_from_test(test, f"tests[{index}]") for index, test in enumerate(document["tests"])],
    }


def _case_from_test(test, where: str) -> dict:
    if not isinstance(test, dict):
        raise EvalError("invalid_file", f"{where}: a test is a mapping")
    _refuse_unknown(test, TEST_KEYS, where)
    variables = dict(_mapping(test.get("vars"), f"{where}.vars"))
    metadata = _mapping(test.get("metadata"), f"{where}.metadata")
    case = {"name": str(test.get("description") or "")[:200], "message": str(variables.pop("message", "") or ""),
            "input": variables.pop("input", None), "vars": variables,
            "assertions": test.get("assert") or [], "threshold": test.get("threshold"),
            **{field: metadata[field] for field in METADATA_FIELDS if field in metadata}}
    return _case_checked(case, where)


def _parse_jsonl(text: str) -> dict:
    parsed = {"description": "", "default_assertions": [], "default_vars": {}, "cases": []}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise EvalError("invalid_file", f"{where}: not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise EvalError("invalid_file", f"{where}: expected a JSON object")
        if "defaultTest" in row:
            default = _mapping(row["defaultTest"], f"{where}.defaultTest")
            parsed["default_assertions"] = assertions_validate(default.get("assert") or [], where=f"{where}.assert")
            parsed["default_vars"] = _mapping(default.get("vars"), f"{where}.vars")
            parsed["description"] = str(row.get("description") or "")
            continue
        row = {("assertions" if key == "assert" else key): value for key, value in row.items()}
        _refuse_unknown(row, JSONL_KEYS, where)
        parsed["cases"].append(_case_checked(row, where))
    return parsed


def _case_checked(case: dict, where: str) -> dict:
    assertions_validate(case.get("assertions") or [], where=f"{where}.assert")
    if case.get("input") is not None and not isinstance(case["input"], dict):
        raise EvalError("invalid_file", f"{where}: input must be a mapping")
    threshold = case.get("threshold")
    if threshold is not None and (not isinstance(threshold, (int, float)) or isinstance(threshold, bool)):
        raise EvalError("invalid_file", f"{where}: threshold must be a number")
    for index, decision in enumerate(case.get("approval_decisions") or []):
        if not isinstance(decision, dict) or decision.get("decision") not in DECISIONS:
            raise EvalError("invalid_file", f"{where}.approval_decisions[{index}]: "
                                            '{"decision": "approve"|"reject", "arguments"?, "comment"?}')
    for index, recorded in enumerate(case.get("tool_results") or []):
        if not isinstance(recorded, dict) or not isinstance(recorded.get("tool"), str) or "output" not in recorded:
            raise EvalError("invalid_file", f'{where}.tool_results[{index}]: {{"tool", "arguments"?, "output"}}')
    if not isinstance(case.get("tags", []), list):
        raise EvalError("invalid_file", f"{where}: tags must be a list")
    return {key: value for key, value in case.items() if value is not None}


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EvalError("invalid_file", f"{where} must be a mapping")
    return value


def _refuse_unknown(row: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(row) - known)
    if unknown:
        raise EvalError("invalid_file", f"{where}: unknown keys {unknown}; known: {sorted(known)}")


# Export -------------------------------------------------------------------------------------------


def suite_export(suite: EvalSuite, *, format: str) -> str:
    """The suite as a file `suite_import` reads back into the same cases."""
    cases = list(suite.cases.order_by("position", "id"))
    if format == "jsonl":
        lines = []
        if suite.default_assertions or suite.default_vars or suite.description:
            lines.append({"defaultTest": {"assert": suite.default_assertions, "vars": suite.default_vars},
                          "description": suite.description})
        lines += [_case_row(case) for case in cases]
        return "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n" for line in lines)
    document = {"description": suite.description} if suite.description else {}
    if suite.default_assertions or suite.default_vars:
        document["defaultTest"] = {key: value for key, value in
                                   (("vars", suite.default_vars), ("assert", suite.default_assertions)) if value}
    document["tests"] = [_case_test(case) for case in cases]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _case_row(case: EvalCase) -> dict:
    row = {"name": case.name, "description": case.description, "message": case.message, "input": case.input,
           "vars": case.vars, "expected": case.expected, "assertions": case.assertions, "tags": case.tags,
           "threshold": case.threshold, "approval_decisions": case.approval_decisions,
           "tool_results": case.tool_results}
    return {key: value for key, value in row.items() if value not in (None, "", [], {})}


def _case_test(case: EvalCase) -> dict:
    variables = {**case.vars}
    if case.message:
        variables["message"] = case.message
    if case.input is not None:
        variables["input"] = case.input
    metadata = {field: getattr(case, field) for field in METADATA_FIELDS if getattr(case, field) not in (None, "", [])}
    test = {"description": case.name, "vars": variables, "assert": case.assertions, "threshold": case.threshold,
            "metadata": metadata}
    return {key: value for key, value in test.items() if value not in (None, "", [], {})}
