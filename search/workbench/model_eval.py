"""Score a word-vector model on standard benchmarks, the way gensim does.

- Word similarity: WordSim-353 and SimLex-999 (gensim's test data). Spearman and
  Pearson correlation between human ratings and the model's cosines; pairs with a
  word outside the vocabulary are skipped and counted.
- Analogies: Mikolov's questions-words.txt ("Athens Greece Baghdad ?" -> Iraq),
  answered by 3CosAdd over the ``restrict_vocab`` most frequent words, inputs
  excluded; accuracy overall, semantic vs syntactic ("gram*" sections), per section.

Rules follow gensim's ``KeyedVectors.evaluate_word_pairs`` /
``evaluate_word_analogies`` (case-insensitive matching, the most frequent casing
wins, questions with unknown words skipped) so numbers are comparable with
published ones; analogies are answered in batches of matrix products rather
than one ``most_similar`` call per question. The one deliberate difference: a
case variant of an input word ("King" for "king") is never taken as the
answer, where gensim only looks at its top five candidates for one that is not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ...errors import EvaluationError
from .words import WordSpace

DEFAULT_RESTRICT_VOCAB = 300_000  # gensim's default
PAIR_DATASETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGY_DATASET = "questions-words.txt"
_SCORE_BUDGET = 1 << 24  # float32 scores held at once while answering analogies (64 MB)

#: progress(done, total) over analogy questions.
Progress = Callable[[int, int], None]


def gensim_test_file(name: str) -> Path:
    """A file from gensim's bundled test data (installed with gensim, no download)."""
    from gensim.test.utils import datapath

    path = Path(datapath(name))
    if not path.exists():
        raise EvaluationError(f"gensim's test data has no {name} (at {path})")
    return path


@dataclass
class PairScore:
    """Correlation of model cosines with human similarity ratings."""

    dataset: str
    path: str
    pairs: int
    used: int
    oov: int
    oov_ratio: float  # percent of pairs skipped, as gensim reports it
    spearman: float
    spearman_p: float
    pearson: float
    pearson_p: float


@dataclass
class SectionScore:
    section: str
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class AnalogyScore:
    """Analogy accuracy (3CosAdd) over the questions whose four words are all known."""

    dataset: str
    path: str
    questions: int
    used: int
    oov: int
    oov_ratio: float
    correct: int
    accuracy: float
    semantic_accuracy: float | None
    syntactic_accuracy: float | None
    sections: list[SectionScore] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sections"] = [dict(asdict(s), accuracy=s.accuracy) for s in self.sections]
        return out


@dataclass
class ModelEvaluation:
    model: str
    vocabulary: int
    dimension: int
    restrict_vocab: int
    word_pairs: list[PairScore]
    analogies: AnalogyScore | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "vocabulary": self.vocabulary, "dimension": self.dimension,
            "restrict_vocab": self.restrict_vocab,
            "word_pairs": [asdict(p) for p in self.word_pairs],
            "analogies": self.analogies.as_dict() if self.analogies else None,
        }


def analogy_sample(every: int) -> str:
    """Every ``every``-th question of each section of gensim's questions-words.txt,
    with the section headers, as file text (a quick stand-in for all ~20k questions)."""
    lines, n = [], 0
    for line in gensim_test_file("questions-words.txt").read_text("utf-8").splitlines():
        if line.startswith(": "):
            lines.append(line)
            n = 0
        else:
            if n % every == 0:
                lines.append(line)
            n += 1
    return "\n".join(lines) + "\n"


def _ok_vocab(space: WordSpace, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """Word (upper-cased if case-insensitive) -> row, over the first rows; the first casing wins."""
    keys = space.keys[:restrict_vocab]
    ok: dict[str, int] = {}
    for row in range(len(keys) - 1, -1, -1):  # reversed, so the most frequent casing is written last
        word = keys[row]
        if word is not None:
            ok[word.upper() if case_insensitive else word] = row
    return ok


def _read_text(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise EvaluationError(f"cannot read {path}: {exc.strerror}") from exc


def evaluate_word_pairs(
    space: WordSpace,
    path: str | Path,
    *,
    dataset: str | None = None,
    restrict_vocab: int = DEFAULT_RESTRICT_VOCAB,
    case_insensitive: bool = True,
    delimiter: str = "\t",
) -> PairScore:
    """Spearman/Pearson of cosines against human ratings in a ``word<TAB>word<TAB>score`` file."""
    from scipy import stats

    path = Path(path)
    ok = _ok_vocab(space, restrict_vocab, case_insensitive)
    gold: list[float] = []
    model: list[float] = []
    oov = 0
    for line in _read_text(path):
        if not line or line.startswith("#"):
            continue
        parts = line.split(delimiter)
        if len(parts) != 3:
            continue
        a, b, rating = parts
        try:
            score = float(rating)
        except ValueError:
            continue  # e.g. a header line
        if case_insensitive:
            a, b = a.upper(), b.upper()
        if a not in ok or b not in ok:
            oov += 1
            continue
        gold.append(score)
        model.append(_cosine(space, ok[a], ok[b]))
    if len(gold) < 3:
        raise EvaluationError(f"{path}: fewer than 3 rated pairs with both words known to {space.name}")
    spearman = stats.spearmanr(gold, model)
    pearson = stats.pearsonr(gold, model)
    return PairScore(
        dataset or path.stem, str(path), len(gold) + oov, len(gold), oov, 100.0 * oov / (len(gold) + oov),
        float(spearman[0]), float(spearman[1]), float(pearson[0]), float(pearson[1]),
    )


def _unit_row(space: WordSpace, row: int) -> np.ndarray:
    vector = np.asarray(space.model.vectors[row], dtype=np.float32)
    return vector / space.norms[row]


def _cosine(space: WordSpace, row_a: int, row_b: int) -> float:
    return float(np.dot(_unit_row(space, row_a), _unit_row(space, row_b)))


def _read_analogies(path: Path, case_insensitive: bool) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    sections: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    for number, line in enumerate(_read_text(path), 1):
        if line.startswith(": "):
            sections.append((line[2:].strip(), []))
            continue
        words = line.split()
        if not words:
            continue
        if not sections:
            raise EvaluationError(f"{path}:{number}: a question before the first ': section' line")
        if len(words) != 4:
            continue  # gensim skips such lines too
        if case_insensitive:
            words = [w.upper() for w in words]
        sections[-1][1].append(tuple(words))  # type: ignore[arg-type]
    return sections


def evaluate_analogies(
    space: WordSpace,
    path: str | Path,
    *,
    dataset: str | None = None,
    restrict_vocab: int = DEFAULT_RESTRICT_VOCAB,
    case_insensitive: bool = True,
    progress: Progress | None = None,
) -> AnalogyScore:
    """Accuracy on ``a b c d`` questions: is d the nearest word to b - a + c (inputs excluded)?"""
    path = Path(path)
    sections = _read_analogies(path, case_insensitive)
    if not sections:
        raise EvaluationError(f"{path} has no ': section' lines; it is not an analogy file")
    ok = _ok_vocab(space, restrict_vocab, case_insensitive)
    end = min(restrict_vocab, len(space.model))
    keys = space.keys[:end]
    fold = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    # Rows spelling the same word in another case (only cased models have any).
    variants: dict[str, list[int]] = {}
    for row, word in enumerate(keys):
        if word is not None:
            variants.setdefault(fold(word), []).append(row)

    asked: list[tuple[int, tuple[str, str, str, str]]] = []  # (section number, question)
    oov = 0
    total = 0
    for number, (_name, questions) in enumerate(sections):
        for question in questions:
            total += 1
            if all(w in ok for w in question):
                asked.append((number, question))
            else:
                oov += 1

    correct_by_section = [0] * len(sections)
    used_by_section = [0] * len(sections)
    vectors = space.model.vectors
    norms = space.norms[:end]
    batch = max(1, _SCORE_BUDGET // max(end, 1))
    for start in range(0, len(asked), batch):
        part = asked[start : start + batch]
        # gensim: mean of unit vectors with weights (-1, +1, +1), normalised.
        query = np.stack([
            (-_unit_row(space, ok[a]) + _unit_row(space, ok[b]) + _unit_row(space, ok[c])) / 3.0
            for _, (a, b, c, _d) in part
        ])
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        scores = query @ np.asarray(vectors[:end], dtype=np.float32).T
        scores /= norms
        for i, (number, (a, b, c, expected)) in enumerate(part):
            for word in (a, b, c):
                scores[i, variants[word]] = -np.inf
            predicted = keys[int(np.argmax(scores[i]))]
            used_by_section[number] += 1
            if predicted is not None and fold(predicted) == expected:
                correct_by_section[number] += 1
        if progress is not None:
            progress(min(start + batch, len(asked)), len(asked))

    section_scores = [SectionScore(name, correct_by_section[i], used_by_section[i]) for i, (name, _) in enumerate(sections)]
    correct = sum(correct_by_section)
    used = len(asked)

    def share(selected: Sequence[SectionScore]) -> float | None:
        n = sum(s.total for s in selected)
        return sum(s.correct for s in selected) / n if n else None

    syntactic = [s for s in section_scores if s.section.startswith("gram")]
    semantic = [s for s in section_scores if not s.section.startswith("gram")]
    return AnalogyScore(
        dataset or path.stem, str(path), total, used, oov, 100.0 * oov / total if total else 0.0,
        correct, correct / used if used else 0.0, share(semantic), share(syntactic), section_scores,
    )


def evaluate_model(
    space: WordSpace,
    *,
    pair_files: Sequence[tuple[str, str | Path]] | None = None,
    analogy_file: str | Path | None = None,
    analogies: bool = True,
    restrict_vocab: int = DEFAULT_RESTRICT_VOCAB,
    progress: Progress | None = None,
) -> ModelEvaluation:
    """All benchmarks for one model; defaults are gensim's bundled files."""
    if restrict_vocab < 1:
        raise EvaluationError("restrict_vocab must be at least 1")
    if pair_files is None:
        pair_files = [(name, gensim_test_file(file)) for name, file in PAIR_DATASETS.items()]
    pairs = [evaluate_word_pairs(space, path, dataset=name, restrict_vocab=restrict_vocab) for name, path in pair_files]
    analogy = None
    if analogies:
        if analogy_file is None:
            analogy_file, name = gensim_test_file(ANALOGY_DATASET), "questions-words"
        else:
            name = Path(analogy_file).stem
        analogy = evaluate_analogies(space, analogy_file, dataset=name, restrict_vocab=restrict_vocab, progress=progress)
    return ModelEvaluation(space.name, len(space.model), space.model.dimension, restrict_vocab, pairs, analogy)


__all__ = [
    "AnalogyScore", "DEFAULT_RESTRICT_VOCAB", "EvaluationError", "ModelEvaluation", "PairScore",
    "SectionScore", "evaluate_analogies", "evaluate_model", "evaluate_word_pairs", "gensim_test_file",
]
