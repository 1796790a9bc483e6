"""The one kernel spec the host serves: Python in the sandbox, launched by the `varro-sandbox` provisioner."""

from __future__ import annotations

from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from varro.kernels.manager import KERNEL_NAME

SPEC = KernelSpec(
    # The provisioner writes the real command (the launcher and its plan); this is what jupyter_client formats first.
    argv=["python", "{connection_file}"],
    display_name="Python (Varro sandbox)",
    language="python",
    # bwrap does not forward signals: interrupts go as messages on the control channel.
    interrupt_mode="message",
    metadata={"kernel_provisioner": {"provisioner_name": "varro-sandbox"}},
)


class VarroSpecs(KernelSpecManager):
    def find_kernel_specs(self) -> dict[str, str]:
        return {KERNEL_NAME: ""}

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name != KERNEL_NAME:
            from jupyter_client.kernelspec import NoSuchKernel

            raise NoSuchKernel(kernel_name)
        return SPEC

    def get_all_specs(self) -> dict[str, Any]:
        return {KERNEL_NAME: {"resource_dir": "", "spec": SPEC.to_dict()}}
