"""The permissions a new file gets: what open() would give it under the user's umask.

Files written through a temporary name (mkstemp makes them 0600) get this mode before the rename,
so a manifest, a saved search or an ONNX export is as private, or as shared, as the user's other
files. The umask is read from /proc/self/status, because reading it with os.umask() means setting
it for a moment, which races with any other thread creating a file.
"""

from __future__ import annotations

import os


def current_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc (not Linux, or a kernel before 4.7)
    os.umask(mask)
    return mask


def new_file_mode(base: int = 0o666) -> int:
    """`base` less the umask: 0644 under umask 022, 0600 under 077."""
    return base & ~current_umask()
