"""The user guide's examples run as written (docs/guide.md), in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"


def test_guide_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks):
        exec(compile(block, f"{GUIDE.name} block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Network(64-128-64-10" in out
    assert "time to decision" in out
    assert out.count("digits_momentum_f4") >= 3
