"""The catalog of Kata shims this project knows.

The chart's ``shims`` map in ``chart/values.yaml`` has exactly these keys (a test
proves it), so the collision rules computed from this list are the ones the
chart applies too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Runtime(Enum):
    """Which containerd shim implementation runs the sandbox."""

    GO = "go"
    RUST = "rust"


@dataclass(frozen=True)
class Shim:
    name: str
    runtime: Runtime
    # The `[hypervisor.<section>]` table of the shim's configuration file.
    hypervisor: str

    @property
    def uses_qemu(self) -> bool:
        return self.hypervisor == "qemu"

    @property
    def config_dir(self) -> str:
        """Directory of the pristine configuration, relative to the install dir."""
        base = "share/defaults/kata-containers"
        return f"{base}/runtime-rs" if self.runtime is Runtime.RUST else base

    @property
    def pristine_config(self) -> str:
        """The configuration file as shipped in kata-static, relative to the install dir."""
        return f"{self.config_dir}/configuration-{self.name}.toml"

    @property
    def generated_config(self) -> str:
        """Where the install writes this shim's generated configuration."""
        return f"{self.config_dir}/runtimes/{self.name}/configuration-{self.name}.toml"

    @property
    def shim_binary(self) -> str:
        """The containerd shim binary, relative to the install dir."""
        prefix = "runtime-rs/bin" if self.runtime is Runtime.RUST else "bin"
        return f"{prefix}/containerd-shim-kata-v2"


def _qemu_family(name: str) -> list[Shim]:
    return [
        Shim(name, Runtime.GO, "qemu"),
        Shim(f"{name}-runtime-rs", Runtime.RUST, "qemu"),
    ]


CATALOG: dict[str, Shim] = {
    shim.name: shim
    for shim in [
        *_qemu_family("qemu"),
        *_qemu_family("qemu-coco-dev"),
        *_qemu_family("qemu-snp"),
        *_qemu_family("qemu-tdx"),
        *_qemu_family("qemu-se"),
        *_qemu_family("qemu-nvidia-gpu"),
        *_qemu_family("qemu-nvidia-gpu-snp"),
        *_qemu_family("qemu-nvidia-gpu-tdx"),
        Shim("clh", Runtime.GO, "clh"),
        Shim("cloud-hypervisor", Runtime.RUST, "cloud-hypervisor"),
        Shim("fc", Runtime.GO, "firecracker"),
        Shim("dragonball", Runtime.RUST, "dragonball"),
    ]
}

# What the chart enables out of the box (values.yaml mirrors this; tested).
DEFAULT_SHIMS: tuple[str, ...] = ("clh", "cloud-hypervisor", "dragonball", "fc", "qemu", "qemu-runtime-rs")
DEFAULT_SHIM = "qemu"


class UnknownShimError(ValueError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"unknown shim {name!r}: it is not one of the shims kata-deploy knows "
            f"({', '.join(sorted(CATALOG))}). Fix: pick one of those names."
        )


def lookup(name: str) -> Shim:
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownShimError(name) from None


def parse_list(text: str) -> tuple[str, ...]:
    """Parse a comma or space separated shim list, keeping order, refusing unknown names."""
    names = [part for part in text.replace(",", " ").split() if part]
    for name in names:
        lookup(name)
    return tuple(dict.fromkeys(names))
