"""Words jieba cuts in two in a Chinese corpus (tuner.data.fragments), as `tuner validate`
finds them: `python bench/jieba_fragments.py CORPUS.jsonl [--documents 3000] [--field text]`.
Prints each word with its pieces and how often they were together, and the seconds taken."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuner.data.fragments import cut_words  # noqa: E402
from tuner.data.vocab import Preprocessing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--documents", type=int, default=3000, help="random documents (seed 7)")
    parser.add_argument("--field", default="text")
    args = parser.parse_args()
    with args.corpus.open(encoding="utf-8") as handle:
        texts = [json.loads(line)[args.field] for line in handle if line.strip()]
    random.Random(7).shuffle(texts)
    texts = texts[:args.documents]
    started = time.perf_counter()
    found = cut_words(texts, Preprocessing())
    seconds = time.perf_counter() - started
    for words in found:
        print(f"{words.word}\t{words.first} + {words.second}\t{words.together}\t"
              f"{words.of_first:.0%} / {words.of_second:.0%}")
    print(f"{len(found)} words in {len(texts)} documents, {seconds:.1f} s")


if __name__ == "__main__":
    main()
