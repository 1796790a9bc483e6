"""The seccomp filter every sandboxed kernel runs under: the system calls no cell needs are refused.

Modelled on Flatpak's blocklist (common/flatpak-run.c) and the ClickHouse code interpreter's profile: default allow,
then refuse what reaches outside the sandbox (mounts, namespaces, tracing other processes, the kernel keyring, BPF,
performance counters, modules, kexec, io_uring, the new mount API) and any socket but a Unix one. A refused call
fails with EPERM (EAFNOSUPPORT for sockets), so Python raises an ordinary OSError the user can read.

The program is classic BPF (`struct sock_filter`, as bwrap's `--seccomp FD` hands it to the kernel), written out
here instruction by instruction: no library between the list below and what the kernel runs. It checks the
architecture first (a call made through another ABI, such as x32 or 32-bit x86 on x86_64, kills the process: its
numbers mean other calls), then the call's number, then for `socket`, `clone` and `ioctl` one argument. Arguments
are compared on their low 32 bits, which is all the kernel reads of them (`int domain`, `unsigned int cmd`, and
`clone`'s namespace flags, all below bit 32), so setting the high bits gets nothing past the filter.
"""

from __future__ import annotations

import errno
import functools
import platform
import socket
import struct
from typing import NamedTuple

REFUSED = (
    # mounts and the new mount API
    "mount", "umount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr",
    # namespaces
    "unshare", "setns",
    # other processes' memory
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # the kernel's keyring, BPF, performance counters, userfaultfd
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    # the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
    "acct", "quotactl", "syslog", "uselib", "iopl", "ioperm", "lookup_dcookie", "vhangup", "name_to_handle_at",
    "open_by_handle_at", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "nfsservctl",
    # io_uring bypasses every check above
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)
# CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET
CLONE_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
TIOCSTI = 0x5412  # pushes characters into a terminal's input: a classic way out of a sandbox



class Arch(NamedTuple):
    """One architecture the filter knows: its audit number and its system calls' numbers."""

    audit: int
    numbers: dict[str, int]
    other_abi: int | None = None  # numbers at or above this belong to another ABI on the same architecture (x32)


_X86_64 = Arch(0xC000003E, {
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "unshare": 272,
    "setns": 308, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "pidfd_getfd": 438,
    "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179, "syslog": 103, "uselib": 134,
    "iopl": 172, "ioperm": 173, "lookup_dcookie": 212, "vhangup": 153, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159,
    "nfsservctl": 180, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "socket": 41, "clone": 56, "clone3": 435, "ioctl": 16,
}, other_abi=0x40000000)
_AARCH64 = Arch(0xC00000B7, {
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "unshare": 97, "setns": 268,
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "pidfd_getfd": 438,
    "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89, "quotactl": 60, "syslog": 116, "lookup_dcookie": 18,
    "vhangup": 58, "name_to_handle_at": 264, "open_by_handle_at": 265, "settimeofday": 170, "clock_settime": 112,
    "clock_adjtime": 266, "adjtimex": 171, "nfsservctl": 42, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "socket": 198, "clone": 220, "clone3": 435, "ioctl": 29,
})  # no umount, uselib, iopl or ioperm on aarch64
ARCHES = {"x86_64": _X86_64, "aarch64": _AARCH64}

# Classic BPF, as <linux/filter.h> and <linux/seccomp.h> define it.
_LD_ABS_W = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = the 32-bit word at offset k of struct seccomp_data
_JEQ, _JGE, _JSET = 0x15, 0x35, 0x45  # BPF_JMP | BPF_JEQ/JGE/JSET | BPF_K: jump jt if true, jf if false
_RET = 0x06  # BPF_RET | BPF_K
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian: low word first)
_NR, _ARCH = 0, 4


def _arg(n: int) -> int:
    return 16 + 8 * n


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _deny(errno_: int) -> bytes:
    return _ins(_RET, RET_ERRNO | errno_)


def _when_arg(nr: int, arg: int, test: bytes, refuse: bytes) -> bytes:
    """If the call is `nr`: load its argument `arg`, then `test`, one jump that skips the refusal (by one
    instruction) where the call may go ahead and falls into it where it may not; then reload the call's number."""
    body = _ins(_LD_ABS_W, _arg(arg)) + test + refuse + _ins(_LD_ABS_W, _NR)
    return _ins(_JEQ, nr, 0, len(body) // 8) + body


@functools.cache
def filter_bpf(machine: str | None = None) -> bytes:
    """The filter for this machine's architecture (or `machine`'s), as bwrap's `--seccomp FD` reads it."""
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        raise RuntimeError(f"no seccomp filter for the {machine or platform.machine()} architecture")
    nr = arch.numbers
    program = _ins(_LD_ABS_W, _ARCH) + _ins(_JEQ, arch.audit, 1, 0) + _ins(_RET, RET_KILL_PROCESS)
    program += _ins(_LD_ABS_W, _NR)
    if arch.other_abi is not None:  # x32's numbers, but -1 (a call a tracer skipped) passes, as libseccomp lets it
        program += _ins(_JGE, arch.other_abi, 0, 2) + _ins(_JEQ, 0xFFFFFFFF, 1, 0) + _ins(_RET, RET_KILL_PROCESS)
    for name in REFUSED:
        if name in nr:
            program += _ins(_JEQ, nr[name], 0, 1) + _deny(errno.EPERM)
    program += _when_arg(nr["socket"], 0, _ins(_JEQ, socket.AF_UNIX, 1, 0), _deny(errno.EAFNOSUPPORT))
    namespaces = functools.reduce(lambda a, b: a | b, CLONE_NAMESPACES)
    # A new process with any new namespace is refused (clone's flags are its first argument on both architectures).
    program += _when_arg(nr["clone"], 0, _ins(_JSET, namespaces, 0, 1), _deny(errno.EPERM))
    # clone3 passes its flags in memory a filter can't read: ENOSYS makes glibc fall back to clone (as Flatpak does).
    program += _ins(_JEQ, nr["clone3"], 0, 1) + _deny(errno.ENOSYS)
    program += _when_arg(nr["ioctl"], 1, _ins(_JEQ, TIOCSTI, 0, 1), _deny(errno.EPERM))
    return program + _ins(_RET, RET_ALLOW)
