"""Where a benchmark ran: CPU, cores, load, versions, and which build of neuroemu's extension it timed."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import struct
import sys
from typing import Any


def prefer_build(path: str) -> None:
    """Import neuroemu from `path` (a ``pip install --target`` folder or a folder holding ``neuroemu/``),
    even where an editable install of the project registered an import hook that would win over sys.path."""
    sys.meta_path[:] = [
        f
        for f in sys.meta_path
        if "editable" not in type(f).__module__.lower() and "scikit_build" not in type(f).__module__.lower()
    ]
    sys.path.insert(0, os.path.abspath(path))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float] | None:
    return os.getloadavg() if hasattr(os, "getloadavg") else None


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all processes, all cores; Linux), or NaN."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def speed_probes() -> dict[str, float]:
    """Two quick readings of how fast this machine runs right now (about 2 s): its speed swings between
    phases as other tenants come and go, and the probes, taken at the start and the end of a run, show
    which phase a run met.

    ``random_read_ns``: nanoseconds per random 8-byte read from a 64 MB array (numpy gather), which sets
    the pace of scattered work on tables larger than the caches; ``matmul_gflops``: a 256 x 256 float32
    matrix product on one thread (torch), the dense peers' kind of work. Each is the best of 5.
    """
    import time

    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    table = rng.random(8 << 20)
    where = rng.integers(0, table.size, 1 << 20)
    a = torch.rand(256, 256)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reads, flops = [], []
        for _ in range(5):
            t = time.perf_counter()
            table[where].sum()
            reads.append((time.perf_counter() - t) / where.size * 1e9)
            t = time.perf_counter()
            for _ in range(20):
                torch.mm(a, a)
            flops.append(20 * 2 * 256**3 / (time.perf_counter() - t) / 1e9)
    finally:
        torch.set_num_threads(threads)
    return {"random_read_ns": min(reads), "matmul_gflops": max(flops)}


def probe_text(probes: dict[str, float] | None) -> str:
    if not probes:
        return "-"
    return f"{probes['random_read_ns']:.1f} ns per random read, {probes['matmul_gflops']:.0f} GFLOP/s matmul"


def _elf_section_names(path: str) -> set[str]:
    """Section names of a 64-bit little-endian ELF file (empty set if it is not one)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return set()
        shoff = struct.unpack_from("<Q", head, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", head, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        sections = [struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)]
        _, _, _, _, str_off, str_size = sections[shstrndx]
        f.seek(str_off)
        strings = f.read(str_size)
    names = set()
    for name_off, *_ in sections:
        end = strings.find(b"\0", name_off)
        names.add(strings[name_off:end].decode(errors="replace"))
    return names


def build_type(neuroemu: Any) -> tuple[str, str]:
    """("Release" / "Debug" / "unknown", how it was decided) for neuroemu's compiled extension.

    Editable installs of this project build in Debug under ``build/<tag>-Debug`` (pyproject.toml); a
    wheel or ``pip install .`` is Release (``-O3 -DNDEBUG``, stripped). A Debug build carries DWARF
    sections (``.debug_info``); an unstripped RelWithDebInfo build does too and reads as "debug info"."""
    core = getattr(neuroemu, "_core", None)
    path = str(getattr(core, "__file__", "") or "")
    declared = getattr(core, "BUILD_TYPE", None)
    if isinstance(declared, str):
        return declared, "declared by the extension"
    if "-debug" in path.lower() or f"{os.sep}debug{os.sep}" in path.lower():
        return "Debug", f"path {path}"
    try:
        sections = _elf_section_names(path)
    except OSError:
        sections = set()
    if not sections:
        return "unknown", f"could not read {path}"
    if ".debug_info" in sections:
        return "Debug", f"{os.path.basename(path)} carries debug info (.debug_info)"
    return "Release", f"{os.path.basename(path)}: no debug info, no -Debug build path"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "torch", "snntorch", "sanafe", "neuroemu"):
        try:
            from importlib.metadata import version

            out[name] = version(name)
        except Exception:
            out[name] = "-"
    return out


# -- memory ----------------------------------------------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def settle_memory() -> None:
    """Garbage-collects and hands freed heap pages back to the OS (glibc), so that RSS reflects live data."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
