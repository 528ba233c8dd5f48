"""Word count over two shelves of documents, written with pipes.

    shelf A ──► thread.map(load) ──┐
                                   ├─► concat ──► flat_map(words) ──► filter(not a stop word)
    shelf B ──► thread.map(load) ──┘          ──► thread.each(tally, workers=4) into a Namespace

``load`` stands for reading a file (it sleeps a millisecond). The counts are kept in a
``Namespace``, whose ``with`` block holds a lock, so four workers can update them safely.
The result is checked against a plain Python loop over the same documents.

Run it with ``python examples/word_count.py``.
"""

from __future__ import annotations

import time
from collections import Counter

import pypeln as pl

SHELF_A = {
    "rivers.txt": "The river runs to the sea and the sea runs to the clouds",
    "clouds.txt": "Clouds carry the sea inland and rain it on the hills",
    "hills.txt": "On the hills the rain gathers into streams and the streams into a river",
}
SHELF_B = {
    "mills.txt": "A mill on the river turns the water into flour and the flour into bread",
    "bread.txt": "The baker buys flour from the mill and sells bread by the river",
    "sea.txt": "Ships carry bread and flour over the sea",
}
STOP_WORDS = frozenset({"a", "and", "by", "from", "it", "into", "on", "over", "the", "to"})


def load(name: str) -> str:
    """A stand-in for reading one file from disk."""
    time.sleep(0.001)
    return {**SHELF_A, **SHELF_B}[name]


def words(text: str) -> list[str]:
    return text.lower().split()


def is_content_word(word: str) -> bool:
    return word not in STOP_WORDS


def count_words() -> tuple[Counter[str], int]:
    """Run the pipeline; return the counts and how many words were counted."""
    counts = pl.thread.Namespace(words=Counter(), total=0)

    def tally(word: str) -> None:
        with counts:  # one worker at a time in here
            counts.words[word] += 1
            counts.total += 1

    shelves = [
        SHELF_A | pl.thread.map(load, workers=3),  # iterating a dict gives its keys
        SHELF_B | pl.thread.map(load, workers=3),
    ]
    content_words = (
        pl.sync.concat(shelves) | pl.sync.flat_map(words) | pl.sync.filter(is_content_word)
    )
    pl.thread.each(tally, content_words, workers=4, run=True)
    return counts.words, counts.total


def count_words_plainly() -> Counter[str]:
    """The same count with a plain loop, to check the pipeline against."""
    texts = [*SHELF_A.values(), *SHELF_B.values()]
    return Counter(word for text in texts for word in words(text) if is_content_word(word))


def main() -> None:
    counts, total = count_words()
    print(f"counted {total} content words, {len(counts)} distinct, in 6 documents")
    for word, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]:
        print(f"  {word:<8}{n}")
    print(f"  same as a plain loop: {counts == count_words_plainly()}")


if __name__ == "__main__":
    main()
