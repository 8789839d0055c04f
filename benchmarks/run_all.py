"""Run every benchmark script in this folder, one after another, and print their RESULT lines.

Each script measures our figure and its baseline in the same run (the machine is shared and noisy, so
only ratios within one run are comparable). Record what you see in docs/benchmarks.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    results: list[str] = []
    failed = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], text=True, capture_output=True)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        if proc.returncode != 0:
            failed += 1
            results.append(f"{script.name}: FAILED (exit {proc.returncode})")
            continue
        results.extend(
            f"{script.name}: {line}"
            for line in proc.stdout.splitlines()
            if line.startswith("RESULT ")
        )
    print("\n== summary")
    for line in results:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
