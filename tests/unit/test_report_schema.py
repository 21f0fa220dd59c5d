"""The results file format: JSON Schema, documentation and model agree."""
from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import jsonschema
import pytest

try:
    from .test_report_fixtures import sample_run
except ImportError:
    from test_report_fixtures import sample_run

from grader.errors import ResultsFileError
from grader.report import schema_path, validation_error
from grader.engine.results import SCHEMA, CheckResult, RunResult, TaskResult, from_dict

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "results-format.md"


@pytest.fixture(scope="module")
def schema():
    return json.loads(schema_path().read_text())


def test_schema_is_valid_and_accepts_a_realistic_results_file(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads(sample_run().to_json())
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert schema["properties"]["schema"]["const"] == SCHEMA


def test_schema_rejects_what_is_wrong(schema):
    data = json.loads(sample_run().to_json())
    data["tasks"][1]["checks"][0]["status"] = "MAYBE"
    assert validation_error(data).startswith("tasks[1].checks[0].status:")
    data = json.loads(sample_run().to_json())
    data["tasks"][0]["checks"][0]["points"] = "2"
    assert "is not of type 'number'" in validation_error(data)
    assert validation_error({"schema": SCHEMA}) == "top level: 'pack' is a required property"
    data = json.loads(sample_run().to_json())
    data["new_field_from_a_later_grader"] = 1                 # readers ignore unknown keys
    assert validation_error(data) is None


def test_schema_names_every_field_of_the_model(schema):
    assert set(schema["properties"]) == {f.name for f in fields(RunResult)}
    assert set(schema["$defs"]["task"]["properties"]) == {f.name for f in fields(TaskResult)}
    assert set(schema["$defs"]["check"]["properties"]) == {f.name for f in fields(CheckResult)}


def _doc_table(heading: str) -> set[str]:
    text = DOC.read_text()
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))


def test_doc_names_every_field_of_the_model():
    assert _doc_table("## Top level: the run") == {f.name for f in fields(RunResult)}
    assert _doc_table("## A task") == {f.name for f in fields(TaskResult)}
    assert _doc_table("## A check") == {f.name for f in fields(CheckResult)}


def test_doc_example_is_valid(schema):
    example = re.search(r"## Example\n\n```json\n(.*?)```", DOC.read_text(), re.S).group(1)
    data = json.loads(example)
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    run = from_dict(data)
    assert run.tasks[0].checks[0].status == "FAIL"


def test_round_trip():
    run = sample_run()
    again = from_dict(json.loads(run.to_json()))
    assert again == run
    assert again.to_json() == run.to_json()


def test_not_a_results_file():
    with pytest.raises(ResultsFileError, match="not a grader results file"):
        from_dict({"tasks": []})
