"""values.yaml, values.schema.json and the Python catalog describe the same chart."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from hooks import naming, shims
from tests.conftest import CHART

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def test_schema_is_draft_07_and_accepts_the_defaults() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)


def test_shims_map_is_the_catalog() -> None:
    assert list(VALUES["shims"]) == list(shims.CATALOG)
    assert set(SCHEMA["properties"]["shims"]["properties"]) == set(shims.CATALOG)
    enabled = {name for name, shim in VALUES["shims"].items() if shim["enabled"]}
    assert enabled == set(shims.DEFAULT_SHIMS)
    assert VALUES["defaultShim"]["amd64"] == shims.DEFAULT_SHIM


def test_schema_suffix_rules_are_the_python_ones() -> None:
    suffix = SCHEMA["definitions"]["suffix"]
    assert suffix["maxLength"] == naming.MAX_SUFFIX_LENGTH
    pattern = re.compile(suffix["pattern"])
    for value in ("", "a", "cicd", "a" * 32, "v1-12"):
        assert pattern.match(value)
    for value in ("a" * 33, "1.12", "Dev_Build", "-a", "a-", "9a"):
        assert not pattern.match(value)
    assert SCHEMA["properties"]["k8sDistribution"]["enum"] == list(naming.DISTRIBUTIONS)


def test_every_value_is_documented_in_values_yaml() -> None:
    text = (CHART / "values.yaml").read_text().splitlines()
    for index, line in enumerate(text):
        match = re.match(r"^([a-zA-Z]\w*):", line)
        if match:
            above = text[index - 1] if index else ""
            assert above.startswith("#") or above.startswith("  #") or match.group(1) in {"env", "image", "shims",
                                                                                       "containerd", "crio",
                                                                                       "preflight", "cleanup"}, line
    documented = set(SCHEMA["properties"]) - {"global"}
    assert documented == set(VALUES), documented ^ set(VALUES)


def test_schema_rejects_unknown_keys() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert not validator.is_valid({**VALUES, "multiInstallSufix": "typo"})
    assert not validator.is_valid({**VALUES, "shims": {"qemu": {"enabled": True, "hypervisor": {"kernal": "/x"}}}})
