"""Train word vectors (gensim Word2Vec or FastText) on a user's own corpus.

The corpus is read with the same readers and tokeniser as ``vecdex index``, so a
model trained here sees words exactly as the indexer will later look them up.
One pass tokenises every record into a temporary file (one sentence per line)
while counting words; gensim then builds its vocabulary from those counts and
trains over the file, epoch after epoch, without reading the inputs again.

The saved file is one that ``--model`` accepts; its format follows the extension:

- ``.kv``  gensim KeyedVectors in one file (fastText keeps its subword vectors),
- ``.bin`` word2vec binary, or for fastText Facebook's ``.bin`` (subwords kept),
- ``.vec`` / ``.txt`` word2vec text (whole words only).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import VecdexError
from ..storage.files import atomic_path
from . import tokenize
from .readers import Problem, ReadOptions, Record, read_inputs

ALGORITHMS = ("word2vec", "fasttext")
OUT_EXTENSIONS = (".kv", ".bin", ".vec", ".txt")
# gensim's Cython training silently drops words past this many in one sentence.
MAX_SENTENCE_TOKENS = 10_000
MAX_PROBLEMS_KEPT = 1000

#: progress(stage, done, total): stage is "read" (documents; total None) or "train" (sentences).
Progress = Callable[[str, int, "int | None"], None]


class TrainingError(VecdexError):
    """A user-facing problem: bad option, empty corpus, unwritable output."""


@dataclass
class TrainOptions:
    """What to train. Defaults are gensim's, except a smaller fastText hash table."""

    algorithm: str = "word2vec"
    dimension: int = 100
    window: int = 5
    min_count: int = 5
    epochs: int = 5
    sg: bool = False  # skip-gram instead of CBOW
    negative: int = 5
    lowercase: bool = True
    workers: int = max(1, min(4, os.cpu_count() or 1))
    seed: int = 1
    #: fastText n-gram hash buckets; None = sized from the vocabulary (see :func:`fasttext_buckets`).
    buckets: int | None = None
    min_n: int = 3
    max_n: int = 6

    def validate(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise TrainingError(f"unknown algorithm {self.algorithm!r} (choose from {', '.join(ALGORITHMS)})")
        for name in ("dimension", "window", "min_count", "epochs", "workers"):
            if getattr(self, name) < 1:
                raise TrainingError(f"--{name.replace('_', '-')} must be at least 1")
        if self.negative < 0:
            raise TrainingError("--negative must be 0 or more")
        if self.buckets is not None and self.buckets < 1:
            raise TrainingError("--buckets must be at least 1")
        if not 1 <= self.min_n <= self.max_n:
            raise TrainingError("fastText n-gram lengths need 1 <= min_n <= max_n")


@dataclass
class TrainReport:
    """What a training run did (the summary line and ``--json``)."""

    out: str
    format: str
    algorithm: str
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    distinct_words: int = 0
    vocabulary: int = 0
    dimension: int = 0
    seconds_reading: float = 0.0
    seconds_training: float = 0.0
    failed: int = 0
    problems: list[Problem] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["problems"] = [{"source": p.source, "message": p.message, "kind": p.kind} for p in self.problems]
        out["seconds_reading"] = round(self.seconds_reading, 3)
        out["seconds_training"] = round(self.seconds_training, 3)
        return out


def output_format(out: str | os.PathLike[str], algorithm: str) -> str:
    """The model format written for an output path (by its extension)."""
    suffix = Path(out).suffix.lower()
    if suffix == ".kv":
        return "kv"
    if suffix == ".bin":
        return "fasttext" if algorithm == "fasttext" else "word2vec"
    if suffix in (".vec", ".txt"):
        return "word2vec-text"
    raise TrainingError(
        f"cannot tell the model format from {Path(out).name!r}: end --out with one of "
        f"{', '.join(OUT_EXTENSIONS)} (.kv is gensim's format; for fastText, .kv and .bin keep subwords)"
    )


def fasttext_buckets(vocabulary: int) -> int:
    """A hash table for character n-grams sized to the vocabulary.

    fastText's default (2M buckets) costs 800 MB at 100 dimensions even for a
    corpus of a few thousand words. A word of the usual length has ~20 n-grams
    of 3-6 characters, many shared; 20 buckets per word keeps collisions rare.
    """
    return int(min(2_000_000, max(20_000, 20 * vocabulary)))


def sentences_of(record: Record, lowercase: bool) -> Iterator[list[str]]:
    """A record's tokens, in pieces gensim trains on in full."""
    tokens = tokenize.words(record.text)
    if lowercase:
        tokens = [t.lower() for t in tokens]
    for start in range(0, len(tokens), MAX_SENTENCE_TOKENS):
        yield tokens[start : start + MAX_SENTENCE_TOKENS]


class _TokenFile:
    """A re-iterable corpus over a tokenised temp file, reporting sentences as they go."""

    def __init__(self, path: str, sentences: int, epochs: int, progress: Progress | None):
        self.path, self.total, self.progress = path, sentences * epochs, progress
        self.done = 0

    def __iter__(self) -> Iterator[list[str]]:
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                self.done += 1
                if self.progress is not None and self.done % 256 == 0:
                    self.progress("train", self.done, self.total)
                yield line.split()


def _tokenise_to_file(items: Iterable[Record | Problem], handle, options: TrainOptions, report: TrainReport,
                      progress: Progress | None) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in items:
        if isinstance(item, Problem):
            report.failed += 1
            if len(report.problems) < MAX_PROBLEMS_KEPT:
                report.problems.append(item)
            continue
        report.documents += 1
        for sentence in sentences_of(item, options.lowercase):
            if not sentence:
                continue
            counts.update(sentence)
            report.sentences += 1
            report.tokens += len(sentence)
            handle.write(" ".join(sentence))
            handle.write("\n")
        if progress is not None and report.documents % 64 == 0:
            progress("read", report.documents, None)
    if progress is not None:
        progress("read", report.documents, None)
    return counts


def _new_model(options: TrainOptions, kept_words: int):
    common = dict(
        vector_size=options.dimension, window=options.window, min_count=options.min_count,
        sg=int(options.sg), negative=options.negative, hs=0 if options.negative else 1,
        workers=options.workers, seed=options.seed, epochs=options.epochs,
    )
    if options.algorithm == "fasttext":
        from gensim.models import FastText

        buckets = options.buckets or fasttext_buckets(kept_words)
        options.buckets = buckets
        return FastText(bucket=buckets, min_n=options.min_n, max_n=options.max_n, **common)
    from gensim.models import Word2Vec

    return Word2Vec(**common)


def _save(model, out: Path, fmt: str) -> None:
    """Write the model next to ``out`` under a temporary name, then rename it into place."""
    with atomic_path(out) as tmp:
        if fmt == "kv":
            # separately=[]: one self-contained file (no side .npy files to lose or mismatch).
            model.wv.save(tmp, separately=[])
        elif fmt == "fasttext":
            from gensim.models.fasttext import save_facebook_model

            save_facebook_model(model, tmp)
        else:
            model.wv.save_word2vec_format(tmp, binary=(fmt == "word2vec"))


def train(
    inputs: Iterable[str],
    out: str | os.PathLike[str],
    options: TrainOptions | None = None,
    read_options: ReadOptions | None = None,
    progress: Progress | None = None,
) -> TrainReport:
    """Train word vectors on the records read from ``inputs`` and save them at ``out``."""
    options = options or TrainOptions()
    options.validate()
    out_path = Path(out)
    fmt = output_format(out_path, options.algorithm)
    if out_path.exists() and out_path.is_dir():
        raise TrainingError(f"--out {out} is a folder; give a file name such as {out_path / 'vectors.kv'}")
    if not out_path.parent.exists():
        raise TrainingError(f"folder {out_path.parent} does not exist (for --out {out})")
    report = TrainReport(out=str(out_path), format=fmt, algorithm=options.algorithm)
    read_options = read_options or ReadOptions()
    import gensim.models  # noqa: F401  (seconds of import time are not training time)

    started = time.perf_counter()
    fd, token_file = tempfile.mkstemp(prefix="vecdex-train-", suffix=".tokens")
    os.close(fd)
    try:
        with open(token_file, "w", encoding="utf-8") as handle:
            counts = _tokenise_to_file(read_inputs(inputs, read_options), handle, options, report, progress)
        report.seconds_reading = time.perf_counter() - started
        report.distinct_words = len(counts)
        kept = sum(1 for c in counts.values() if c >= options.min_count)
        if report.tokens == 0:
            raise TrainingError("the corpus has no words to train on" + (
                f" ({report.failed} inputs could not be read)" if report.failed else ""))
        if kept == 0:
            raise TrainingError(
                f"no word occurs {options.min_count} times or more in the corpus "
                f"({report.tokens} tokens, {len(counts)} distinct words); lower --min-count"
            )

        started = time.perf_counter()
        model = _new_model(options, kept)
        model.build_vocab_from_freq(dict(counts), corpus_count=report.sentences)
        corpus = _TokenFile(token_file, report.sentences, options.epochs, progress)
        model.train(corpus, total_examples=report.sentences, total_words=report.tokens, epochs=options.epochs)
        if progress is not None:
            progress("train", corpus.total, corpus.total)
        _save(model, out_path, fmt)
        report.seconds_training = time.perf_counter() - started
    finally:
        try:
            os.unlink(token_file)
        except OSError:
            pass
    report.vocabulary = len(model.wv)
    report.dimension = int(model.wv.vector_size)
    report.options = asdict(options)
    return report


__all__ = ["ALGORITHMS", "TrainOptions", "TrainReport", "TrainingError", "fasttext_buckets", "output_format", "train"]
