"""The README's Python examples run as printed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def _in_python_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = re.search(r"\n## In Python\n(.*?)\n## ", text, re.S).group(1)
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    vocoding, flow = _in_python_examples()
    # Vocoding with the bundled model: paths in the README are relative to the repository.
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    example = vocoding.replace('"vocoded.wav"', repr(str(tmp_path / "vocoded.wav")))
    exec(compile(example, "README.md", "exec"), namespace)  # our own README
    written, rate = sf.read(tmp_path / "vocoded.wav")
    assert rate == 22050 == namespace["rate"]
    assert namespace["wav"].shape == (namespace["mel"].shape[0] * 256,)
    assert written.shape == namespace["audio"].shape and np.std(written) > 1e-3  # cropped
    # The flow: forward, then the exact inverse.
    namespace = {}
    exec(compile(flow, "README.md", "exec"), namespace)
    audio, rebuilt = namespace["audio"], np.asarray(namespace["audio_back"])
    np.testing.assert_allclose(rebuilt, audio, atol=1e-5)
