"""Whole commands started by a small process of their own, so that each one's peak RSS is its own.

Linux counts in a child's peak resident memory what its parent held when it forked: a command
started by the benchmark, which holds the generated rows (250–340 MB at a million), reported the
benchmark's size, not its own. The spawner starts before the rows are made, holds little, and
starts every timed command: it reports each one's wall time, peak RSS and exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def serve() -> None:
    """Run each order read from stdin (a JSON line: command, env, cwd) and answer on stdout."""
    for line in sys.stdin:
        order = json.loads(line)
        with tempfile.TemporaryFile() as errors:
            started = time.perf_counter()
            proc = subprocess.Popen(
                order["command"], env=order["env"], cwd=order["cwd"], stdout=subprocess.DEVNULL, stderr=errors
            )
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - started
            errors.seek(0)
            said = errors.read(4000).decode(errors="replace")
        answer = {
            "seconds": seconds,
            "kib": usage.ru_maxrss,
            "code": os.waitstatus_to_exitcode(status),
            # the command's CPU and that of the processes it started and waited for
            "cpu": usage.ru_utime + usage.ru_stime,
        }
        print(json.dumps({**answer, "errors": said}), flush=True)


class Spawner:
    """The spawner process, started when made: start it before the benchmark grows."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int, str, float]:
        """Wall seconds, peak RSS (MB), exit code, the start of stderr and CPU seconds (user and
        system, with the processes it waited for) of one whole process."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"command": command, "env": env, "cwd": str(cwd)}) + "\n")
        self._proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self._proc.stdout.readline())
        return answer["seconds"], answer["kib"] / 1024, answer["code"], answer["errors"], answer["cpu"]

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait()


if __name__ == "__main__":
    serve()
