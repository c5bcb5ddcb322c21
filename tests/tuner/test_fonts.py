"""A Chinese font installed after matplotlib cached its font list is still found and draws the
report's topic words (issue #15: fonts-wqy-microhei installed after the first report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tuner.reporting.fonts import draws_chinese

# Run in a fresh interpreter whose MPLCONFIGDIR holds the stale cache: matplotlib reads its font
# list once per process.
PROBE = """
import json, sys, warnings
from matplotlib import font_manager
from tuner.reporting.fonts import draws_chinese, font_for
from tuner.reporting.plots import plot_topic_words

listed = [e.fname for e in font_manager.fontManager.ttflist if draws_chinese(e.fname)]
font = font_for("zh")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    plot_topic_words({"run": {"0": ["比赛", "球队", "主场"]}}, sys.argv[1] + "/zh.png", font)
print(json.dumps({"listed": listed, "font": font,
                  "missing": [str(w.message) for w in caught if "missing from" in str(w.message)]}))
"""


def _run_python(code: str, config_dir: Path, *args: str) -> str:
    env = {**os.environ, "MPLCONFIGDIR": str(config_dir), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def stale_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MPLCONFIGDIR whose font list was built before any Chinese font was installed: a real
    cache with every font that draws Chinese taken out."""
    config_dir = tmp_path_factory.mktemp("mplconfig")
    _run_python("import matplotlib.font_manager", config_dir)
    (cache,) = config_dir.glob("fontlist-*.json")
    fonts = json.loads(cache.read_text(encoding="utf-8"))
    chinese = [e for e in fonts["ttflist"] if draws_chinese(e["fname"])]
    assert chinese, "no Chinese font installed (scripts/install-system-deps.sh)"
    fonts["ttflist"] = [e for e in fonts["ttflist"] if e not in chinese]
    cache.write_text(json.dumps(fonts), encoding="utf-8")
    return config_dir


@pytest.fixture(scope="module")
def probe(stale_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("plots")
    return json.loads(_run_python(PROBE, stale_cache, str(out)).strip().splitlines()[-1])


def test_stale_cache_lists_no_chinese_font(probe: dict) -> None:
    assert probe["listed"] == []


def test_font_installed_after_the_cache_is_found(probe: dict) -> None:
    assert probe["font"] is not None


def test_topic_words_draw_in_the_registered_font(probe: dict) -> None:
    assert probe["missing"] == []
