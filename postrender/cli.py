"""`kata-deploy-postrender`: Helm post-renderer for the kata-deploy chart.

Helm 3:  helm install R chart/ --post-renderer kata-deploy-postrender [--post-renderer-args --patch=FILE]
Helm 4:  helm plugin install postrender/helm-plugin; helm install R chart/ --post-renderer kata-deploy-postrender
Check:   helm template R chart/ --set multiInstallSuffix=S | kata-deploy-postrender --check
         (Helm 4 hides a renderer's messages; this shows them.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import yaml

from postrender import checks, render, stream, transform

EXIT_REFUSED = 1
EXIT_USAGE = 2


def _load_patches(paths: list[str]) -> list[transform.Patch]:
    patches = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                entries = yaml.safe_load(handle)
        except OSError as err:
            raise transform.PatchError(f"cannot read patch file {path}: {err.strerror}") from err
        except yaml.YAMLError as err:
            raise transform.PatchError(f"patch file {path} is not valid YAML: {err}") from err
        patches += transform.Patch.parse(entries, path)
    return patches


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kata-deploy-postrender", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patch", action="append", default=[], metavar="FILE",
                        help="RFC 6902 patches as [{target: {kind, name}, patch: [ops]}]; repeatable")
    parser.add_argument("--check", action="store_true",
                        help="only check the stream (e.g. `helm template` output) and report; write nothing")
    parser.add_argument("input", nargs="?", default="-", help="rendered manifests (default: standard input)")
    args = parser.parse_args(argv)

    if args.input == "-":
        text = sys.stdin.read()
    else:
        with open(args.input, encoding="utf-8") as handle:
            text = handle.read()
    try:
        if args.check:
            install, problems = render.check_only(text)
            if problems:
                raise checks.PostRenderError(problems)
            print(f"ok: install {install.tag!r} ({install.install_dir}), every object follows the rules")
            return 0
        output = render.post_render(text, _load_patches(args.patch))
    except (checks.PostRenderError, stream.StreamError, transform.PatchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_REFUSED if not isinstance(err, transform.PatchError) else EXIT_USAGE
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
