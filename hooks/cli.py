"""`kata-deploy`: the command line of the node installer and the Helm hook programs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from hooks import naming, preflight, uninstall
from hooks import shims as shim_catalog
from hooks.installer import commands as installer_commands

EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def _check_suffix(args: argparse.Namespace) -> int:
    try:
        enabled = shim_catalog.parse_list(args.shims)
        default_shim = args.default_shim or (
            shim_catalog.DEFAULT_SHIM if shim_catalog.DEFAULT_SHIM in enabled else enabled[0]
        )
        install = naming.Install.validated(args.suffix, enabled, default_shim, args.debug, args.installation_prefix)
    except naming.SuffixError as err:
        if args.json:
            json.dump(
                {"valid": False, "value": err.value, "rule": err.rule, "reason": err.reason,
                 "suggestion": err.suggestion, "error": str(err)},
                sys.stdout, indent=2,
            )
            print()
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as err:  # unknown shim, default shim not enabled, relative prefix
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    described = install.describe()
    if args.json:
        json.dump({"valid": True, **described}, sys.stdout, indent=2)
        print()
    else:
        _print_tree(described)
    return 0


def _print_tree(value: object, indent: int = 0) -> None:
    pad = "  " * indent
    assert isinstance(value, dict)
    for key, item in value.items():
        if isinstance(item, dict):
            print(f"{pad}{key}:")
            _print_tree(item, indent + 1)
        else:
            print(f"{pad}{key}: {'' if item is None else item}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata-deploy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check-suffix",
        help="validate a multi-install suffix and print every name and path it derives",
    )
    check.add_argument("suffix", help="the suffix, as given to --set multiInstallSuffix (\"\" for unsuffixed)")
    check.add_argument("--shims", default=",".join(shim_catalog.DEFAULT_SHIMS),
                       help="enabled shims, comma separated (default: the chart's defaults)")
    check.add_argument("--default-shim", default="",
                       help="the shim behind the default RuntimeClass (default: qemu if enabled, else the first)")
    check.add_argument("--debug", action="store_true", help="account for the -debug RuntimeClasses")
    check.add_argument("--installation-prefix", default="", help="prefix of the install dir")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(handler=_check_suffix)

    for register in _COMMAND_MODULES:
        register(commands)
    return parser


# Subcommands living in their own modules register themselves through this list.
_COMMAND_MODULES: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    preflight.register,
    uninstall.register,
    installer_commands.register,
]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
