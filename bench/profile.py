"""Sample a server process with py-spy while it is under load, and summarise the stacks.

    python -m bench.profile RAW_FILE        # print the summary of a py-spy raw file

py-spy (``pip install py-spy``) records collapsed stacks (``--format raw``); the summary
lists the functions where samples end (self time) and the functions on the most
stacks (inclusive time), as shares of all samples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds`` into ``out`` (collapsed stacks)."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    argv = [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    argv += ["--rate", str(rate), "--format", "raw", "--function", "--nonblocking"]
    argv += ["-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _short(frame: str) -> str:
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    path = found.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{found.group('func')} ({path})"


def _stacks(raw: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [_short(f) for f in stack.split(";")]
            stacks.append((frames, int(count)))
    return stacks


# Leaves where a thread waits rather than works (py-spy's idle detection misses them).
WAITING = ("EpollSelector.select ", "_worker (concurrent/", "Condition.wait ", "SimpleQueue.get ")
# Frames under everything (process start, the event loop): no news in an inclusive list.
PLUMBING = (
    "<frozen runpy>",
    "chatdesk/cli.py",
    "chatdesk/__main__.py",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "asyncio/runners.py",
    "BaseEventLoop.run_",
    "BaseEventLoop._run_once",
    "Handle._run",
)


def summarise(raw: Path, top: int = 15) -> str:
    stacks = _stacks(raw)
    total = sum(count for _, count in stacks)
    if not total:
        return "no samples"
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    waiting = 0
    for frames, count in stacks:
        if frames[-1].startswith(WAITING):
            waiting += count
            continue
        leaf[frames[-1]] += count
        for name in set(frames):
            if not any(p in name for p in PLUMBING):
                inclusive[name] += count
    busy = total - waiting
    if not busy:
        return f"{total} samples, all waiting"
    lines = [
        f"{total} samples; {waiting / total:.0%} waiting in epoll/queues (left out below); "
        f"shares are of the {busy} working samples",
        "",
        "self time (the frame running when sampled; C calls count to their Python caller):",
    ]
    lines += [f"  {n / busy:6.1%}  {name}" for name, n in leaf.most_common(top)]
    lines += ["", "inclusive time (on the stack):"]
    lines += [f"  {n / busy:6.1%}  {name}" for name, n in inclusive.most_common(top * 3)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 15))
