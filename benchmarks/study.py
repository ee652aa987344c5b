#!/usr/bin/env python
"""The paper's study: sync-trained versus asynchronous-aware models under every schedule (docs/study.md).

The same options as ``neuroemu study`` (``--quick``, ``--full``, ``--seeds``, ``--epochs``, ``--samples``,
``--workers``, ``--report-only`` ...), with defaults that write into this repository: trained models and
records to ``build/study`` (ignored by git) and the results page to ``docs/results.md`` with its figures
in ``docs/figures/``. A second run takes the trained models from ``build/study/models`` and only
re-evaluates.

    python benchmarks/study.py                 # the default study (about 30 minutes on 2 idle cores)
    python benchmarks/study.py --quick         # seconds; writes to build/study-quick (page included)
    python benchmarks/study.py --full          # 30 epochs, 5 seeds: a bigger machine or a GPU
    python benchmarks/study.py --report-only   # rewrite docs/results.md from build/study's records
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _with_default(argv: list[str], option: str, value: str) -> list[str]:
    if any(a == option or a.startswith(option + "=") for a in argv):
        return argv
    return [*argv, option, value]


def main(argv: list[str]) -> int:
    try:
        from neuroemu.study import main as study_main
    except ImportError as exc:
        sys.exit(f"benchmarks/study.py: cannot import neuroemu ({exc}); pip install -e '.[torch,plot]'")
    quick = "--quick" in argv
    full = "--full" in argv
    folder = "study-quick" if quick else "study-full" if full else "study"
    argv = _with_default(argv, "--out", str(ROOT / "build" / folder))
    if not (quick or full):  # only the default study writes the repository's page; the others keep it in --out
        argv = _with_default(argv, "--page", str(ROOT / "docs" / "results.md"))
    return study_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
