"""Figure: the coordinator's memory while one agent writes 1 GiB of output.

Target: RSS growth of this process <= 50 MB while ``run_process`` streams 1 GiB (JSON-like lines
with some stderr, then 256 MiB without a newline) to its log file, with an ``on_line`` that
looks at every line. The baseline is the same writer with its output sent to /dev/null, run in
the same session, so the figures show what the runner itself costs. RSS is sampled every 10 ms
by a thread. Usage: ``python benchmarks/bench_memory.py [MiB]`` (default 1024).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil

from nborch.execute import ProcessSpec, run_process

MIB = 1024 * 1024
TARGET_MB = 50

# Lines of ~200 bytes like an agent's JSON events, every 100th on stderr; the last quarter is a
# single line without a newline (the worst case for a line reader).
WRITER = textwrap.dedent(
    """
    import sys
    total = int(sys.argv[1])
    out, err = sys.stdout.buffer, sys.stderr.buffer
    line = b'{"type":"assistant","message":{"content":[{"type":"text","text":"' + b"x" * 120
    line += b'"}]},"session_id":"0f3a"}\\n'
    block = line * 500
    lines_part, written = total * 3 // 4, 0
    while written < lines_part:
        out.write(block)
        err.write(b"warning: something on stderr\\n" * 5)
        written += len(block)
    raw = b"y" * (1 << 20)
    for _ in range((total - written) // len(raw)):
        out.write(raw)
    """
)


class Sampler:
    """Samples this process's RSS in a thread until stopped; keeps the peak."""

    def __init__(self, every: float = 0.01):
        self.proc = psutil.Process()
        self.every = every
        self.before = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = self.proc.memory_info().rss
        self.peak = max(self.peak, self.after)


async def baseline(script: Path, total: int) -> float:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(total),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    start = time.perf_counter()
    await proc.wait()
    return time.perf_counter() - start


async def ours(script: Path, total: int, folder: Path) -> tuple[float, object, int]:
    lines = 0

    def on_line(stream: str, line: str) -> None:
        nonlocal lines
        lines += 1

    spec = ProcessSpec(
        argv=(sys.executable, str(script), str(total)), cwd=folder,
        env={"PATH": os.environ.get("PATH", os.defpath)}, log_path=folder / "agent.log",
        timeout=600, redact=("sk-not-really-a-secret",),
    )  # fmt: skip
    start = time.perf_counter()
    result = await run_process(spec, on_line=on_line)
    return time.perf_counter() - start, result, lines


def mb(n: float) -> str:
    return f"{n / 1e6:7.1f} MB"


def main() -> int:
    total = int(sys.argv[1]) * MIB if len(sys.argv) > 1 else 1024 * MIB
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        script = folder / "writer.py"
        script.write_text(WRITER)
        with Sampler() as base_mem:
            base_s = asyncio.run(baseline(script, total))
        with Sampler() as our_mem:
            our_s, result, lines = asyncio.run(ours(script, total, folder))
        log_size = (folder / "agent.log").stat().st_size
    got = result.stdout_bytes + result.stderr_bytes
    growth = our_mem.peak - our_mem.before
    base_growth = base_mem.peak - base_mem.before
    print(f"writer: {total / MIB:.0f} MiB on stdout (+ stderr), {result!r}")
    print(
        f"read: {got / MIB:.0f} MiB, {lines:,} lines to on_line, log file {log_size / MIB:.0f} MiB"
    )
    print(f"{'':22}{'before':>10}{'after':>11}{'peak':>11}{'growth':>11}{'time':>9}")
    for name, mem, secs in (("baseline (/dev/null)", base_mem, base_s),
                            ("run_process", our_mem, our_s)):  # fmt: skip
        print(f"{name:22}{mb(mem.before)}{mb(mem.after):>11}{mb(mem.peak):>11}"
              f"{mb(mem.peak - mem.before):>11}{secs:8.1f}s")  # fmt: skip
    print(f"growth: {growth / 1e6:.1f} MB (baseline {base_growth / 1e6:.1f} MB; "
          f"target <= {TARGET_MB} MB); time ratio {our_s / base_s:.1f}x, "
          f"throughput {got / MIB / our_s:.0f} MiB/s")  # fmt: skip
    return 0 if growth <= TARGET_MB * 1e6 and result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
