"""The sandbox a kernel runs in, root's side of it: the kernel host's, never the web tier's.

`plan.py` decides what a kernel may see and use (bubblewrap's mounts and namespaces, rlimits, `seccomp.py`'s
filter, `cgroup.py`'s cgroup) and writes it as a plan; `launch.py` carries a plan out as root, drops to the
kernel's uid and execs bubblewrap; `isolation.py` decides at start-up whether a sandbox can be made here at all.
`inside/` is the kernel's own code, copied into the sandbox read-only (`/opt/varro`): it runs as the kernel.
"""
