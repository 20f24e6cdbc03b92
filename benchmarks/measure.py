"""Timing statistics, process memory and machine facts shared by the benchmarks."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np


def stats(samples_ms: list[float]) -> dict:
    a = np.asarray(samples_ms, dtype=float)
    if a.size == 0:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "mean_ms": None}
    return {
        "n": int(a.size),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
    }


def sample_calls(fn: Callable[[], object], iterations: int, warmup: int = 0) -> list[float]:
    """Call `fn` warmup + iterations times; the timed calls' durations in ms."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def time_calls(fn: Callable[[], object], iterations: int, warmup: int) -> dict:
    return stats(sample_calls(fn, iterations, warmup))


def proc_status(pid: int, *fields: str) -> dict[str, float | None]:
    """Memory figures from /proc/<pid>/status in MiB (VmRSS now, VmHWM peak), Threads as a count."""
    out: dict[str, float | None] = dict.fromkeys(fields)
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in out:
                number = int(value.split()[0])
                out[name] = round(number / 1024, 1) if value.strip().endswith("kB") else number
    except (OSError, ValueError):
        pass
    return out


def rss_mb_of(pid: int, field: str = "VmHWM") -> float | None:
    """A memory figure (VmHWM = peak RSS, VmRSS = current) of a live process, in MiB."""
    return proc_status(pid, field)[field]


def open_files_of(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def cpu_seconds_of(pid: int) -> float | None:
    """CPU time (user + system) a live process has used, in seconds (10 ms resolution).

    Unlike wall-clock latency this barely changes when other work competes for the cores, so it is the
    steadier way to compare two servers on a busy machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_pressure() -> dict | None:
    """Linux PSI: the share of time some runnable task waited for a CPU (avg10/avg60/avg300, percent)."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return {k: float(v) for k, v in (part.split("=") for part in line.split()[1:]) if k.startswith("avg")}


def machine_load() -> dict:
    return {"load_average": load_average(), "cpu_pressure_some_pct": cpu_pressure()}


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def speed_reference(repeats: int = 7) -> dict:
    """Fixed work timed on this machine, so figures from different hosts can be compared.

    Machines of one kind are not one speed: the same code, versions and benchmark have run about 2x slower
    on one host than on another. `python_loop_ms` is a million-step pure-Python loop (the cost of
    Gradio's request handling); `numpy_small_ops_ms` is 1,000 numpy operations on 128x128 float32
    arrays (the cost of preprocessing)."""

    def python_loop():
        total = 0
        for i in range(1_000_000):
            total += i
        return total

    a = np.random.default_rng(0).random((128, 128), dtype=np.float32)

    def numpy_small_ops():
        for _ in range(250):
            b = np.clip(a * 1.5 - 0.2, 0.0, 1.0)
            m = b > 0.5
            m[1:] |= m[:-1]
            float(b[m].sum())

    return {
        "python_loop_ms": round(min(sample_calls(python_loop, repeats, 1)), 1),
        "numpy_small_ops_ms": round(min(sample_calls(numpy_small_ops, repeats, 1)), 1),
    }


def machine_basics() -> dict:
    """What shapes the numbers: cores, their speed, load (other work on the machine), versions."""
    import gradio
    import gradio_client
    import httpx

    return {
        "cpu_model": cpu_model(),
        "speed_reference": speed_reference(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": load_average(),
        "cpu_pressure_at_start": cpu_pressure(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gradio": gradio.__version__,
        "gradio_client": gradio_client.__version__,
        "httpx": httpx.__version__,
    }


def save_result(result: dict, out: Path, indent: int = 2) -> None:
    """Write a benchmark's result as JSON (creating its folder), as every benchmark script does."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=indent) + "\n")
