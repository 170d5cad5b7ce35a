"""The whole renderer: pure, idempotent, patches re-checked, never empty."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender import checks, render, stream, transform

BLOCK_TEXT = st.text(st.sampled_from("ab-:#\n ---\t"), max_size=40)


def patched(operations: list[dict[str, object]], kind: str = "DaemonSet", name: str | None = None) -> list[
        transform.Patch]:
    return transform.Patch.parse([{"target": {"kind": kind, "name": name}, "patch": operations}], "test")


def test_pure_and_idempotent(rendered_cicd: str) -> None:
    once = render.post_render(rendered_cicd)
    assert render.post_render(rendered_cicd) == once
    assert render.post_render(once) == once


def test_crlf_input_gives_the_same_output(rendered_cicd: str) -> None:
    assert render.post_render(rendered_cicd.replace("\n", "\r\n")) == render.post_render(rendered_cicd)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(annotation=BLOCK_TEXT, comment=st.text(st.sampled_from("ab #:-"), max_size=20))
def test_idempotent_and_round_trips_for_arbitrary_text(rendered_cicd: str, annotation: str, comment: str) -> None:
    """Block scalars holding `---`, comments and odd characters survive and reach a fixed point."""
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {"example.com/text": annotation}}]
    source = rendered_cicd.replace("# Source:", f"# {comment.replace(chr(10), ' ')}\n# Source:", 1)
    once = render.post_render(source, patched(ops, "ServiceAccount", "kata-deploy-cicd"))
    assert render.post_render(once) == once
    documents = stream.parse(once)
    account = next(d for d in documents if d.kind == "ServiceAccount" and d.name == "kata-deploy-cicd")
    assert account.body["metadata"]["annotations"]["example.com/text"] == annotation


def test_unchanged_config_keeps_the_digest_and_a_change_rolls_it(rendered_cicd: str) -> None:
    def digest(text: str) -> str:
        daemonset = next(d for d in stream.parse(text) if d.kind == "DaemonSet")
        return str(daemonset.body["spec"]["template"]["metadata"]["annotations"][transform.CONFIG_DIGEST_ANNOTATION])

    base = digest(render.post_render(rendered_cicd))
    assert digest(render.post_render(rendered_cicd)) == base
    ops = [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "X", "value": "1"}}]
    assert digest(render.post_render(rendered_cicd, patched(ops))) != base


def test_a_patch_is_checked_again(rendered_cicd: str) -> None:
    ops = [{"op": "replace", "path": "/spec/template/spec/volumes/0/hostPath/path", "value": "/opt/kata-cicd-cicd"}]
    with pytest.raises(checks.PostRenderError, match=r"DaemonSet/kata-deploy-cicd.*hostPath"):
        render.post_render(rendered_cicd, patched(ops))


@pytest.mark.parametrize(("entries", "message"), [
    ([{"target": {"kind": "Deployment"}, "patch": [{"op": "remove", "path": "/x"}]}],
     "no object matches any Deployment"),
    ([{"target": {"kind": "DaemonSet"}, "patch": [{"op": "remove", "path": "/nope"}]}], "cannot apply to DaemonSet"),
    ([{"patch": []}], "needs target.kind"),
    ({"not": "a list"}, "expected a list"),
])
def test_bad_patches_are_refused(rendered_cicd: str, entries: object, message: str) -> None:
    with pytest.raises(transform.PatchError, match=message):
        render.post_render(rendered_cicd, transform.Patch.parse(entries, "p.yaml"))


def test_empty_release_is_refused() -> None:
    with pytest.raises(checks.PostRenderError, match="refusing to write an empty release"):
        render.post_render("---\n# Source: kata-deploy/templates/x.yaml\n")


def test_patch_file_from_the_command_line(rendered_cicd: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from postrender import cli

    patch_file = tmp_path / "patch.yaml"
    patch_file.write_text(yaml.safe_dump([{
        "target": {"kind": "DaemonSet", "name": "kata-deploy-cicd"},
        "patch": [{"op": "add", "path": "/spec/template/spec/hostNetwork", "value": True}],
    }]))
    source = tmp_path / "in.yaml"
    source.write_text(rendered_cicd)
    assert cli.main([f"--patch={patch_file}", str(source)]) == 0
    assert "hostNetwork: true" in capsys.readouterr().out
    assert cli.main(["--patch=/nonexistent.yaml", str(source)]) == 2
    assert "cannot read patch file /nonexistent.yaml" in capsys.readouterr().err
