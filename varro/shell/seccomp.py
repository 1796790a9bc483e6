"""The seccomp filter every sandboxed kernel runs under: the system calls no cell needs are refused.

Modelled on Flatpak's blocklist (common/flatpak-run.c) and the ClickHouse code interpreter's profile: default allow,
then refuse what reaches outside the sandbox (mounts, namespaces, tracing other processes, the kernel keyring, BPF,
performance counters, modules, kexec, io_uring, the new mount API) and any socket but a Unix one. A refused call
fails with EPERM (EAFNOSUPPORT for sockets), so Python raises an ordinary OSError the user can read.
"""

from __future__ import annotations

import errno
import functools
import socket
import tempfile

import pyseccomp as seccomp

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


@functools.cache
def filter_bpf() -> bytes:
    """The compiled filter for this machine's architecture, as bwrap's `--seccomp FD` reads it."""
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in REFUSED:
        try:
            f.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError):
            pass  # a call this architecture does not have
    f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    for flag in CLONE_NAMESPACES:  # one rule a flag: a new process with any new namespace is refused
        f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter can't read: ENOSYS makes glibc fall back to clone (as Flatpak does).
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(seccomp.ERRNO(errno.EPERM), "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()
