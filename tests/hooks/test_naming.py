"""The suffix rules and derived names (hooks/naming.py)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks import naming, shims

ALL_VARIANTS = ("", *naming.VARIANTS)


def handler_owners(suffixes: list[str]) -> dict[str, tuple[str, str, str]]:
    """Every handler of every (shim, suffix, variant), asserting none is produced twice."""
    seen: dict[str, tuple[str, str, str]] = {}
    for suffix in suffixes:
        install = naming.Install(suffix)
        for shim, variant in itertools.product(shims.CATALOG, ALL_VARIANTS):
            handler = install.handler(shim, variant)
            triple = (shim, suffix, variant)
            assert seen.setdefault(handler, triple) == triple, f"{handler} from {triple} and {seen[handler]}"
    return seen


def valid(suffix: str) -> bool:
    try:
        naming.validate_suffix(suffix, shims.CATALOG, debug=True)
    except naming.SuffixError:
        return False
    return True


# Suffixes built from the pieces collisions are made of: shim names, their tails, variants.
PIECES = sorted({*shims.CATALOG, *naming.shim_tails(), *naming.VARIANTS, *naming.COMPONENTS, "x", "v2", "cicd"})
piece_suffixes = st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("-".join)
random_suffixes = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(piece_suffixes, random_suffixes), min_size=1, max_size=6))
def test_no_two_triples_share_a_handler(candidates: list[str]) -> None:
    accepted = ["", *sorted({s for s in candidates if valid(s)})]
    handlers = handler_owners(accepted)
    # The default RuntimeClass kata-<S> is never another install's shim class either.
    for suffix in accepted[1:]:
        default_class = naming.Install(suffix).default_runtime_class.name
        assert default_class not in handlers, (suffix, handlers.get(default_class))


@settings(max_examples=200, deadline=None)
@given(st.one_of(piece_suffixes, random_suffixes))
def test_object_names_never_collide_with_another_install(suffix: str) -> None:
    if not valid(suffix):
        return
    mine = set(naming.Install(suffix).object_names().values())
    for other in ("", "x", "cicd", *(f"{suffix}-{c}" for c in naming.COMPONENTS)):
        if other == suffix or not valid(other):
            continue
        assert not mine & set(naming.Install(other).object_names().values()), (suffix, other)


@pytest.mark.parametrize(
    ("value", "rule", "suggestion"),
    [
        ("1.12", "format", "v1-12"),
        ("2.0", "format", "v2-0"),
        ("Dev_Build", "format", "dev-build"),
        ("-x", "format", "x"),
        ("x-", "format", "x"),
        ("a" * 33, "length", "a" * 32),
        ("default", "collision", "my-default"),
        ("debug", "collision", "debug-1"),
        ("devkit", "collision", "devkit-1"),
        ("kata", "collision", "my-kata"),
        ("qemu", "collision", "my-qemu"),
        ("snp", "collision", "my-snp"),
        ("runtime-rs-x", "collision", "my-runtime-rs-x"),
        ("qemu-x", "collision", "my-qemu-x"),
        ("x-debug", "collision", "x-debug-1"),
        ("cleanup", "collision", "cleanup-1"),
        ("x-preflight", "collision", "x-preflight-1"),
    ],
)
def test_invalid_suffixes_name_the_value_the_rule_and_a_fix(value: str, rule: str, suggestion: str) -> None:
    with pytest.raises(naming.SuffixError) as caught:
        naming.validate_suffix(value)
    err = caught.value
    assert (err.value, err.rule, err.suggestion) == (value, rule, suggestion)
    assert repr(value) in str(err) and f"Fix: use {suggestion!r}" in str(err)
    naming.validate_suffix(suggestion)  # the proposal itself is valid


def test_seed_proposal_characters_are_explained() -> None:
    with pytest.raises(naming.SuffixError, match=r"seed proposal allowed '_', '\.' and uppercase"):
        naming.validate_suffix("1.12")


def test_budget_depends_on_enabled_shims_and_debug() -> None:
    longest = "qemu-nvidia-gpu-snp-runtime-rs"
    assert naming.suffix_budget([longest], debug=True) == 63 - len("kata-") - len(longest) - 1 - len("-debug") == 21
    assert naming.suffix_budget([longest], debug=False) == 27
    assert naming.suffix_budget(shims.DEFAULT_SHIMS, debug=True) == naming.MAX_SUFFIX_LENGTH
    naming.validate_suffix("a" * 27, [longest])
    with pytest.raises(naming.SuffixError) as caught:
        naming.validate_suffix("a" * 22, [longest], debug=True)
    assert caught.value.rule == "budget"
    assert f"'kata-{longest}-{'a' * 22}-debug' has 64 characters" in str(caught.value)
    assert "budget is 21 characters" in str(caught.value)
    assert caught.value.suggestion == "a" * 21


def test_valid_suffix_is_returned_unchanged() -> None:
    assert naming.validate_suffix("cicd") == "cicd"
    assert naming.validate_suffix("") == ""


def test_derived_names_with_a_suffix() -> None:
    install = naming.Install.validated("cicd", ["qemu", "fc"], "qemu", debug=True, installation_prefix="/usr/local/")
    assert install.install_dir == "/usr/local/opt/kata-cicd"
    assert install.handler("qemu") == "kata-qemu-cicd"
    assert install.handler("qemu", "debug") == "kata-qemu-cicd-debug"
    assert install.runtime_type("fc") == "io.containerd.kata-fc-cicd.v2"
    assert install.default_runtime_class == naming.RuntimeClassName("kata-cicd", "kata-qemu-cicd", "qemu")
    assert install.node_mark == "kata-deploy.katacontainers.io/cicd"
    assert install.containerd_dropin == "kata-deploy-cicd.toml"
    assert install.qemu_wrapper() == "/usr/local/opt/kata-cicd/bin/qemu-system-x86_64-installation-prefix"
    assert [rc.name for rc in install.runtime_classes()] == [
        "kata-fc-cicd", "kata-fc-cicd-debug", "kata-qemu-cicd", "kata-qemu-cicd-debug", "kata-cicd",
    ]
    assert install.object_names() == {
        "installer": "kata-deploy-cicd",
        "preflight": "kata-deploy-cicd-preflight",
        "cleanup": "kata-deploy-cicd-cleanup",
    }


def test_empty_suffix_is_the_upstream_unsuffixed_install() -> None:
    install = naming.Install.validated("", ["qemu"])
    assert (install.install_dir, install.handler("qemu"), install.default_runtime_class.name) == (
        "/opt/kata", "kata-qemu", "kata",
    )
    assert install.node_mark == "kata-deploy.katacontainers.io/default"
    assert install.fullname == "kata-deploy"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"default_shim": "fc", "shims": ["qemu"]}, "default shim 'fc' is not among the enabled shims"),
        ({"installation_prefix": "usr/local"}, "installation prefix 'usr/local' is relative"),
        ({"shims": ["qemu", "nope"]}, "unknown shim 'nope'"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        naming.Install.validated("cicd", **kwargs)  # type: ignore[arg-type]


def test_tails_are_computed_from_the_catalog() -> None:
    tails = naming.shim_tails()
    assert {"runtime-rs", "snp", "tdx", "se", "coco-dev", "nvidia-gpu", "nvidia-gpu-snp-runtime-rs"} <= set(tails)
    assert naming.shim_tails(["a", "a-b", "a-b-c"]) == ("b", "b-c", "c")
