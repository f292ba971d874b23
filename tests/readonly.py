"""A folder made really read-only for a test: a read-only bind mount when running as root
(root ignores permission bits), permission bits otherwise."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in (folder, *folder.iterdir())}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield folder
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    mount = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(folder), str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root: {mount.stderr.strip()}")
    try:
        yield folder
    finally:  # lazily: a connection left open by a failing test must not keep it mounted
        subprocess.run(["umount", "--lazy", str(folder)], check=True, timeout=30)
