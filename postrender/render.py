"""The post-renderer pipeline: parse, patch, stamp, check, write."""

from __future__ import annotations

from collections.abc import Sequence

from hooks import naming
from postrender import checks, stream, transform


def post_render(text: str, patches: Sequence[transform.Patch] = ()) -> str:
    """Return the checked and stamped stream, or raise PostRenderError/StreamError/PatchError.

    Pure: the same input gives the same bytes, and post_render(post_render(x)) == post_render(x).
    """
    documents = stream.parse(text)
    if not documents:
        raise checks.PostRenderError([checks.Violation(
            "release", "stream", "no object in the rendered manifests; refusing to write an empty release "
            "(Helm 3 would delete everything on upgrade)",
        )])
    # Refuse a release with a bad suffix before any user patch touches it ...
    checks.find_install(documents)
    transform.apply_patches(documents, list(patches))
    # ... and derive the install from what the patches left, since they may change its settings.
    install = checks.find_install(documents)
    transform.stamp(install, documents)
    problems = checks.check(install, documents)
    if problems:
        raise checks.PostRenderError(problems)
    return stream.render(documents)


def check_only(text: str) -> tuple[naming.Install, list[checks.Violation]]:
    """The rules applied to `helm template` output as it is, without stamping."""
    documents = stream.parse(text)
    install = checks.find_install(documents)
    return install, checks.check(install, documents)
