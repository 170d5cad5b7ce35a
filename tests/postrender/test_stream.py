"""Parsing and writing Helm 3 and Helm 4 manifest streams."""

from __future__ import annotations

import pytest

from postrender import stream

HELM3 = """---
# Source: kata-deploy/templates/a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
data:
  script: |
    first
    ---
    after a document marker inside a block scalar
---
# Source: kata-deploy/templates/empty.yaml
---
# Source: kata-deploy/templates/b.yaml
# a comment line inside the document
apiVersion: v1
kind: ServiceAccount
metadata:
  name: b
"""

HELM4 = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: b
  annotations:
    postrenderer.helm.sh/postrender-filename: 'kata-deploy/templates/b.yaml'
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  annotations:
    postrenderer.helm.sh/postrender-filename: 'kata-deploy/templates/a.yaml'
"""


def test_helm3_sources_and_block_scalars() -> None:
    documents = stream.parse(HELM3)
    assert [(d.kind, d.name, d.source) for d in documents] == [
        ("ConfigMap", "a", "kata-deploy/templates/a.yaml"),
        ("ServiceAccount", "b", "kata-deploy/templates/b.yaml"),
    ]
    assert documents[0].body["data"]["script"] == "first\n---\nafter a document marker inside a block scalar\n"
    assert documents[0].where == "ConfigMap/a (from kata-deploy/templates/a.yaml)"


def test_helm4_annotation_is_kept() -> None:
    documents = stream.parse(HELM4)
    out = stream.render(documents)
    assert out.count(f"{stream.HELM4_FILENAME_ANNOTATION}: kata-deploy/templates/b.yaml") == 1
    assert [d.source for d in documents] == [None, None]
    assert documents[1].where == "ConfigMap/a (from kata-deploy/templates/a.yaml)"


def test_crlf_is_read_like_lf() -> None:
    assert stream.render(stream.parse(HELM3.replace("\n", "\r\n"))) == stream.render(stream.parse(HELM3))


@pytest.mark.parametrize("text", [HELM3, HELM4])
def test_render_is_a_fixed_point(text: str) -> None:
    once = stream.render(stream.parse(text))
    assert stream.render(stream.parse(once)) == once
    assert "# Source: kata-deploy/templates/empty.yaml" not in once


def test_comment_only_stream_has_no_objects() -> None:
    assert stream.parse("---\n# Source: x.yaml\n---\n# only comments\n") == []


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "is a list, not a Kubernetes object"),
    ("kind: [unclosed\n", "not valid YAML"),
])
def test_bad_streams_are_refused(text: str, message: str) -> None:
    with pytest.raises(stream.StreamError, match=message):
        stream.parse(text)
