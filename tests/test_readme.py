"""The README's Python example runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def test_readme_python_example_runs():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = re.search(r"## In Python\s+```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # our own README
    audio, rebuilt = namespace["audio"], np.asarray(namespace["audio_back"])
    np.testing.assert_allclose(rebuilt, audio, atol=1e-5)
