"""One set of suffix rules: hooks/naming.py, values.schema.json and the chart's templates agree.

At least 200 generated suffixes, valid and invalid, go through all three: the same
accept/reject decision; a schema error exactly for the format and length rules; and
for the rules only the templates can express, the same message as the Python module.
"""

from __future__ import annotations

import json
import random
import string
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
import yaml

from hooks import naming, shims
from tests.conftest import CHART, Helm

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULT_VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
ALL_SHIMS = {"debug": True, "shims": {name: {"enabled": True} for name in shims.CATALOG}}
CONFIGURATIONS = {"defaults": {}, "all-shims-debug": ALL_SHIMS}


def generated_suffixes(count: int, seed: int = 2026) -> list[str]:
    rng = random.Random(seed)
    pieces = [*shims.CATALOG, *naming.shim_tails(), *naming.VARIANTS, *naming.COMPONENTS, *naming.RESERVED_WORDS,
              "cicd", "v2", "x", "1.12", "2.0", "Dev_Build", "team-a"]
    alphabet = string.ascii_lowercase + string.digits + "-"
    suffixes = {"", "cicd", "v2", "1.12", "2.0", "Dev_Build", "a" * 32, "a" * 33, "a" * 40, "a" * 21, "a" * 22}
    while len(suffixes) < count:
        shape = rng.randrange(4)
        if shape == 0:
            suffixes.add("-".join(rng.choice(pieces) for _ in range(rng.randint(1, 3))))
        elif shape == 1:
            suffixes.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))))
        elif shape == 2:
            suffixes.add(rng.choice(string.ascii_lowercase) + "".join(
                rng.choice(alphabet) for _ in range(rng.randint(0, 34))) + rng.choice(string.ascii_lowercase))
        else:
            suffixes.add("".join(rng.choice(alphabet + "_.ABZ") for _ in range(rng.randint(1, 12))))
    return sorted(suffixes)


SUFFIXES = generated_suffixes(220)


def python_verdict(suffix: str, overrides: dict[str, object]) -> naming.SuffixError | None:
    values = {**DEFAULT_VALUES, **overrides}
    shim_values = {**DEFAULT_VALUES["shims"], **values["shims"]}  # type: ignore[dict-item]
    enabled = [n for n, s in shim_values.items() if s.get("enabled")]
    try:
        naming.validate_suffix(suffix, enabled, bool(values.get("debug")))
    except naming.SuffixError as err:
        return err
    return None


def schema_accepts(suffix: str, overrides: dict[str, object]) -> bool:
    values = {**DEFAULT_VALUES, **overrides, "multiInstallSuffix": suffix}
    values["shims"] = {n: {**s, **ALL_SHIMS["shims"].get(n, {})} if overrides else s  # type: ignore[attr-defined]
                       for n, s in DEFAULT_VALUES["shims"].items()}
    return jsonschema.Draft7Validator(SCHEMA).is_valid(values)


def helm_render(helm: Helm, suffix: str, overrides: dict[str, object], workdir: Path) -> tuple[int, str]:
    values_file = workdir / f"values-{abs(hash((suffix, json.dumps(overrides))))}.yaml"
    values_file.write_text(yaml.safe_dump({**overrides, "multiInstallSuffix": suffix}))
    result = helm.template("-f", str(values_file), check=False)
    return result.returncode, result.stderr


def test_enough_suffixes_on_both_sides() -> None:
    verdicts = [python_verdict(s, {}) for s in SUFFIXES]
    assert len(SUFFIXES) >= 200
    assert sum(v is None for v in verdicts) >= 40
    assert {v.rule for v in verdicts if v} >= {"format", "length", "collision"}
    assert any(python_verdict(s, ALL_SHIMS) and python_verdict(s, ALL_SHIMS).rule == "budget"  # type: ignore[union-attr]
               for s in SUFFIXES)


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
def test_python_schema_and_templates_agree(helm: Helm, configuration: str, tmp_path: Path) -> None:
    overrides = CONFIGURATIONS[configuration]
    with ThreadPoolExecutor(max_workers=4) as pool:
        rendered = list(pool.map(lambda s: helm_render(helm, s, overrides, tmp_path), SUFFIXES))
    disagreements = []
    for suffix, (returncode, stderr) in zip(SUFFIXES, rendered, strict=True):
        err = python_verdict(suffix, overrides)
        schema_ok = schema_accepts(suffix, overrides)
        if err is None:
            ok = returncode == 0 and schema_ok
        elif err.rule in ("format", "length"):
            ok = returncode != 0 and not schema_ok and repr(suffix).strip("'\"") in stderr
        else:
            ok = returncode != 0 and schema_ok and str(err) in stderr
        if not ok:
            disagreements.append((suffix, err and err.rule, schema_ok, returncode, stderr.strip()[-300:]))
    assert not disagreements, "\n".join(map(str, disagreements))
