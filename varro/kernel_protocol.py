"""What the web tier and the kernel host add to the Jupyter messaging protocol, named once for both sides.

A cell of the web tier is an `execute_request` with CELL_MARK in its metadata: the host begins its watch on the
chat's folder before passing it to the kernel, and after the cell's idle status sends the cell's end (the files it
changed, the quota's verdict, how the kernel ended) as a message of its own on iopub, of type CELL_END, whose parent
is the request (varro/kernels/connection.py; the web tier's side is varro/shell/remote.py).
"""

CELL_MARK = "varro_cell"
CELL_END = "varro_cell_end"
