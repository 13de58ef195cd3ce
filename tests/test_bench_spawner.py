"""The benchmark's peak RSS column is each command's own: a command started by a large process
would report that process's size (Linux counts what the parent held when it forked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.spawner import Spawner

TOUCHED = 160  # MB this process holds before the command starts


def _held(mb: int) -> bytearray:
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return block


def test_a_commands_peak_is_its_own_whatever_the_benchmark_holds(tmp_path: Path) -> None:
    spawner = Spawner()  # small: started before the benchmark grows
    try:
        held = _held(TOUCHED)
        small = [sys.executable, "-c", "pass"]
        proc = subprocess.Popen(small, stdout=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        assert usage.ru_maxrss / 1024 >= TOUCHED  # what the benchmark reported before the spawner
        seconds, mb, code, said, _cpu = spawner.run(small, dict(os.environ), tmp_path)
        assert code == 0 and said == "" and 0 < seconds < 30
        assert mb < 60
        touch = "b = bytearray(120 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1"
        large = [sys.executable, "-c", touch]
        assert spawner.run(large, dict(os.environ), tmp_path)[1] >= 120
        refused = [sys.executable, "-c", "import sys; sys.exit('no such grant')"]
        assert spawner.run(refused, dict(os.environ), tmp_path)[2:4] == (1, "no such grant\n")
        del held
    finally:
        spawner.close()


def test_a_commands_cpu_counts_the_processes_it_waited_for(tmp_path: Path) -> None:
    """The CPU column: a command that sleeps uses next to none; one whose child spins for a second
    (as verify's and rebuild's second processes work) is charged that second."""
    spawner = Spawner()
    try:
        asleep = [sys.executable, "-c", "import time; time.sleep(1)"]
        seconds, _mb, _code, _said, cpu = spawner.run(asleep, dict(os.environ), tmp_path)
        assert seconds >= 1 and cpu < 0.5
        spin = "import time\nend = time.process_time() + 1\nwhile time.process_time() < end: pass"
        parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}], check=True)"
        _seconds, _mb, code, said, cpu = spawner.run(
            [sys.executable, "-c", parent], dict(os.environ), tmp_path
        )
        assert code == 0, said
        assert cpu >= 1
    finally:
        spawner.close()


def test_a_write_timed_many_times_is_given_a_new_voucher_each_run(tmp_path: Path) -> None:
    """The median of ten spends was of one spend and nine "already recorded" answers (the same
    voucher each run: 0.61 s against 0.66–0.72 s for a spend recorded, at 1M events): a write's
    command is made again for each run."""
    from bench.__main__ import spend_args, timed

    seen = tmp_path / "seen"
    shown = "import sys; f = open(sys.argv[1], 'a'); f.write(sys.argv[2] + ' ')"
    seen.write_text("")

    def command() -> list[str]:
        args = spend_args("grant-ledger", "T")
        voucher = args[args.index("--voucher") + 1]
        return [sys.executable, "-c", shown, str(seen), voucher]

    figure = timed("a write", 0, command, dict(os.environ), tmp_path, 4)
    assert figure.seconds == figure.seconds  # every run exited 0
    vouchers = seen.read_text().split()
    assert len(vouchers) == 4 and len(set(vouchers)) == 4
