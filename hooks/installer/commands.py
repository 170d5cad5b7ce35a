"""The `install`, `cleanup`, `status` and `run` subcommands of `kata-deploy`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hooks import naming
from hooks.installer import settings
from hooks.installer.errors import EXIT_FAILURE, InstallerError
from hooks.installer.nodes import KubeAPI
from hooks.installer.restart import Restarter

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

ENV_NOTE = "Each flag also comes from the DaemonSet's environment variable named in its help; the flag wins."


def _common(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host-root", help="the node's / as seen here (HOST_ROOT; default / on a host, /host in the pod)")
    add("--suffix", help="multi-install suffix S: /opt/kata-S, kata-<shim>-S (MULTI_INSTALL_SUFFIX)")
    add("--installation-prefix", help="absolute prefix of the install dir (INSTALLATION_PREFIX)")
    add("--distribution", help="k8s|k3s|rke2|k0s|microk8s (K8S_DISTRIBUTION; default k8s)")
    add("--containerd-config-dir", help="override the distribution's containerd dir (CONTAINERD_CONFIG_DIR)")
    add("--containerd-config-file", help="override its main config file name (CONTAINERD_CONFIG_FILE)")
    add("--containerd-version", help="the node's containerd version, e.g. 2.1.4 (CONTAINERD_VERSION; "
                                     "default: the Node's containerRuntimeVersion, or the host binary)")
    add("--crio", action="store_const", const=True, help="the node runs CRI-O, not containerd (CRIO=true)")
    add("--shims", help="enabled shims, comma separated (SHIMS; default: the chart's defaults)")
    add("--default-shim", help="shim of the default RuntimeClass (DEFAULT_SHIM_<ARCH>)")
    add("--debug", action="store_const", const=True, help="also register -debug handlers (DEBUG=true)")
    add("--arch", help="node architecture as uname -m says it (default: this machine's)")
    add("--node-name", help="the Node to label (NODE_NAME)")
    add("--no-k8s", action="store_const", const=True,
        help="do not use the Kubernetes API: no node labels (NO_K8S=true); for use outside a cluster")
    add("--no-restart", action="store_const", const=True,
        help="do not restart the CRI; say that it would have (NO_RESTART=true)")
    add("--log-level", choices=["error", "warn", "info", "debug", "trace"],
        help="step lines are printed at info and below (LOG_LEVEL)")


def _install_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", help="kata-static tarball or directory holding opt/kata/ "
                                            "(ARTIFACTS; default /opt/kata-artifacts)")
    parser.add_argument("--shim-overrides", help='JSON {"qemu": {"kernel": "/x"}} written into each shim\'s '
                                                 "[hypervisor.<name>] table (SHIM_OVERRIDES)")


def _logger(args: argparse.Namespace, env: dict[str, str]) -> Callable[[str], None]:
    level = (args.log_level or env.get("LOG_LEVEL", "") or "info").lower()
    quiet = level in {"error", "warn", "warning"}

    def log(message: str) -> None:
        if not quiet:
            print(f"kata-deploy: {message}", flush=True)

    return log


def _settings(args: argparse.Namespace, env: dict[str, str]) -> settings.Settings:
    from hooks.installer import engine

    resolved = settings.resolve(args, env)
    if not resolved.shims_given:
        saved = engine.saved_shims(resolved.host_root, resolved.install.install_dir)
        if saved:
            resolved = settings.resolve(args, env, saved)
    return resolved


def _edges(resolved: settings.Settings) -> tuple[Restarter, KubeAPI | None]:
    from hooks.installer import nodes, restart

    restarter: Restarter = (
        restart.Systemd(resolved.host_root) if resolved.restart else restart.DryRun()
    )
    api = nodes.KubernetesAPI() if resolved.k8s else None
    return restarter, api


def _guarded(action: Callable[[argparse.Namespace, dict[str, str]], int]) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        env = dict(os.environ)
        try:
            return action(args, env)
        except InstallerError as err:
            print(f"kata-deploy {args.command}: error: {err}", file=sys.stderr, flush=True)
            return err.exit_code
        except OSError as err:  # anything the installer did not foresee, still with the path
            print(f"kata-deploy {args.command}: error: {err}", file=sys.stderr, flush=True)
            return EXIT_FAILURE

    return handler


def _install_or_cleanup(args: argparse.Namespace, env: dict[str, str]) -> int:
    from hooks.installer import engine

    log = _logger(args, env)
    resolved = _settings(args, env)
    restarter, api = _edges(resolved)
    action = engine.install if args.command == "install" else engine.cleanup
    action(resolved, restarter, api, log)
    return 0


def _status(args: argparse.Namespace, env: dict[str, str]) -> int:
    from hooks.installer import status

    root = Path(args.host_root or env.get("HOST_ROOT", "/") or "/")
    prefixes = [p for p in [args.installation_prefix or env.get("INSTALLATION_PREFIX", "")] if p]
    extra = []
    if args.containerd_config_dir:
        extra.append(f"{args.containerd_config_dir.rstrip('/')}/{args.containerd_config_file or 'config.toml'}")
    print(status.render(status.scan(root, prefixes, extra), args.json))
    return 0


def _run(args: argparse.Namespace, env: dict[str, str]) -> int:
    from hooks.installer import run

    run.block_termination()
    log = _logger(args, env)
    resolved = _settings(args, env)
    restarter, api = _edges(resolved)
    mode = (args.mode or env.get("KATA_DEPLOY_MODE", "") or "install").strip()
    ready = Path(args.ready_file or env.get("KATA_DEPLOY_READY_FILE", "") or naming.READY_FILE)
    return run.run(resolved, mode, run.Pod(restarter, api, log, ready))


def register(commands: Subparsers) -> None:
    install = commands.add_parser("install", help="install Kata on this node (idempotent)", epilog=ENV_NOTE)
    _common(install)
    _install_flags(install)
    install.set_defaults(handler=_guarded(_install_or_cleanup))

    cleanup = commands.add_parser("cleanup", help="remove exactly what `install` added", epilog=ENV_NOTE)
    _common(cleanup)
    cleanup.set_defaults(handler=_guarded(_install_or_cleanup))

    status = commands.add_parser("status", help="list every Kata install on this host")
    status.add_argument("--host-root", help="the node's / as seen here (HOST_ROOT; default /)")
    status.add_argument("--installation-prefix", help="also look below this prefix (INSTALLATION_PREFIX)")
    status.add_argument("--containerd-config-dir", help="also read this containerd dir's config")
    status.add_argument("--containerd-config-file", help="its main config file name")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_guarded(_status))

    run_cmd = commands.add_parser("run", help="the DaemonSet's loop (KATA_DEPLOY_MODE=install|cleanup)",
                                  epilog=ENV_NOTE)
    _common(run_cmd)
    _install_flags(run_cmd)
    run_cmd.add_argument("--mode", choices=["install", "cleanup"], help="KATA_DEPLOY_MODE")
    run_cmd.add_argument("--ready-file", help="readiness file (KATA_DEPLOY_READY_FILE; default /tmp/kata-deploy/ready)")
    run_cmd.set_defaults(handler=_guarded(_run))
