"""Reading and writing Helm's rendered manifest stream.

Helm 3 separates documents with `---` and names each template in a `# Source:`
comment; Helm 4 drops the comment and carries the template name in the
`postrenderer.helm.sh/postrender-filename` annotation, which must come back
unchanged. Document boundaries are taken from the YAML parser itself, so a `---`
line inside a block scalar never splits a document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

SOURCE_PREFIX = "# Source: "
HELM4_FILENAME_ANNOTATION = "postrenderer.helm.sh/postrender-filename"

Manifest = dict[str, Any]


class StreamError(ValueError):
    """The input is not a YAML stream of Kubernetes objects."""


@dataclass
class Document:
    """One rendered object and the `# Source:` template it came from (Helm 3), if any."""

    body: Manifest
    source: str | None = None

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def where(self) -> str:
        """How error messages name this object."""
        origin = self.source or (self.body.get("metadata") or {}).get("annotations", {}).get(
            HELM4_FILENAME_ANNOTATION
        )
        return f"{self.kind}/{self.name}" + (f" (from {origin})" if origin else "")


_SOURCE_RE = re.compile(r"^# Source: (.+?)\s*$", re.MULTILINE)
# libyaml when present: the renderer sees every document of every render.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes multi-line strings (scripts, TOML) as literal blocks, as people wrote them."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def parse(text: str) -> list[Document]:
    """Split a rendered stream into objects, keeping each one's `# Source:` comment.

    Comment-only and empty documents (templates that rendered nothing) are dropped,
    as Helm itself drops them.
    """
    text = text.replace("\r\n", "\n")
    documents: list[Document] = []
    gap_start = 0
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            start, end = node.start_mark.index, node.end_mark.index
            sources = _SOURCE_RE.findall(text, gap_start, start)
            gap_start = end
            body = loader.construct_document(node)
            if body is None:
                continue
            if not isinstance(body, dict):
                raise StreamError(
                    f"document at line {node.start_mark.line + 1} is a {type(body).__name__}, not a Kubernetes object"
                )
            documents.append(Document(body, sources[-1] if sources else None))
    except yaml.YAMLError as err:
        raise StreamError(f"the rendered manifests are not valid YAML: {err}") from err
    finally:
        loader.dispose()
    return documents


def _dump(body: Manifest) -> str:
    return yaml.dump(
        body, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 16, allow_unicode=True
    )


def render(documents: list[Document]) -> str:
    """Write objects back as a stream. render(parse(render(x))) == render(x)."""
    parts = []
    for document in documents:
        header = f"{SOURCE_PREFIX}{document.source}\n" if document.source else ""
        parts.append(f"---\n{header}{_dump(document.body)}")
    return "".join(parts)
