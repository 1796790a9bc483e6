"""The seccomp filter, run by the Linux kernel itself: a child process (root, so every capability is there) installs
the program and makes each refused call with arguments the kernel would reject on its own with another error.
An EPERM there is the filter's, never a missing capability's; the same calls without the filter show what the
kernel says instead."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

from varro.kernels.sandbox.seccomp import ARCHES, REFUSED, filter_bpf

# Installs the program given in hex (none if empty), then makes each call [name, number, args] and prints its errno.
PROBE = r"""
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
program = bytes.fromhex(sys.argv[1])
if program:
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
    prog = Prog(len(program) // 8, program)
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0, ctypes.get_errno()  # PR_SET_SECCOMP, FILTER
out = {}
for name, nr, args in json.loads(sys.argv[2]):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    out[name] = ctypes.get_errno() if r == -1 else 0
print(json.dumps(out))
"""
BAD = [-1] * 6  # a bad pointer, fd, flag word or command in every argument: each call fails before it does anything
ARGS = {
    "init_module": [0, 0, 0],  # an empty image: ENOEXEC
    "vhangup": [],  # the probe has no terminal (a session of its own)
    "clone": [0x10000000 | 0x200, 0, 0, 0, 0],  # CLONE_NEWUSER | CLONE_FS, a combination the kernel refuses: EINVAL
    "clone3": [0, 0],
    "socket-inet": [2, 1, 0],  # AF_INET, SOCK_STREAM
    "socket-unix": [1, 1, 0],
    "ioctl": [-1, 0x5412, 0],  # TIOCSTI on no file: EBADF
    "ioctl-high-bits": [-1, 0x5412 | 1 << 32, 0],  # the kernel reads only the low 32 bits of the command
    "ioctl-other": [-1, 0x5413, 0],  # TIOCGWINSZ: any other command goes through
}


def probe(program: bytes) -> dict[str, int]:
    numbers = ARCHES[os.uname().machine].numbers
    calls = [[name, numbers[name], ARGS.get(name, BAD)] for name in REFUSED if name in numbers]
    calls += [[name, numbers[name.split("-")[0]], args] for name, args in ARGS.items() if name not in REFUSED]
    out = subprocess.run([sys.executable, "-c", PROBE, program.hex(), json.dumps(calls)], capture_output=True,
                         text=True, timeout=30, start_new_session=True, check=True)
    return dict(json.loads(out.stdout))


def test_every_refused_call_gets_eperm_from_the_filter_not_from_a_missing_capability() -> None:
    assert os.geteuid() == 0, "the probe needs every capability, so that only the filter can say EPERM"
    filtered, bare = probe(filter_bpf()), probe(b"")
    refused = [name for name in REFUSED if name in filtered]
    assert len(refused) >= 50
    assert {name: filtered[name] for name in refused} == dict.fromkeys(refused, errno.EPERM)
    # Without the filter the kernel refuses each for its own reason (bad address, bad flags, no such call), never
    # EPERM: so the EPERM above is the filter's.
    assert not [name for name in refused if bare[name] == errno.EPERM], bare
    assert filtered["clone"] == errno.EPERM and bare["clone"] == errno.EINVAL
    assert filtered["clone3"] == errno.ENOSYS and bare["clone3"] != errno.ENOSYS


def test_only_unix_sockets_and_no_tiocsti_however_the_arguments_are_dressed() -> None:
    filtered, bare = probe(filter_bpf()), probe(b"")
    assert filtered["socket-inet"] == errno.EAFNOSUPPORT and bare["socket-inet"] == 0
    assert filtered["socket-unix"] == 0
    assert filtered["ioctl"] == filtered["ioctl-high-bits"] == errno.EPERM
    assert bare["ioctl"] == bare["ioctl-high-bits"] == filtered["ioctl-other"] == errno.EBADF


def test_another_architecture_is_refused_by_name() -> None:
    assert filter_bpf("aarch64") != filter_bpf("x86_64")
    try:
        filter_bpf("riscv64")
    except RuntimeError as exc:
        assert "riscv64" in str(exc)
    else:
        raise AssertionError("a filter for an architecture without a table")
