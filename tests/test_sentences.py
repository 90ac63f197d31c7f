"""The sentence splitter and tokeniser fast paths give exactly the reference answers.

Reference: the installed ``sentence-splitter`` package (sentences and spans) and
the Unicode token pattern run by the ``regex`` module (tokens).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from real_texts import CORPORA, corpus
from sentence_splitter import SentenceSplitter
from vecdex.errors import InputError
from vecdex.indexer import sentences, tokenize

STOCK = SentenceSplitter("en")


@pytest.mark.parametrize("name", CORPORA)
def test_sentences_and_spans_equal_the_package_on_every_document(name):
    docs = corpus(name)
    assert len(docs) >= 100
    differing = [d for d in docs if sentences.split(d) != STOCK.split(d)]
    assert differing == []
    differing = [d for d in docs if sentences.sentence_spans(d) != sentences.reference_spans(d, splitter=STOCK)]
    assert differing == []


# Pieces that exercise every rule of the splitter: honorifics, numeric-only
# prefixes, acronyms, quotes and brackets around stops, ?! and ellipses,
# lower-case and numeric starters, runs of spaces, tabs and newlines, non-ASCII
# upper case and punctuation.
PIECES = ["Mr.", "Dr.", "No.", "no.", "Art.", "pp.", "U.S.", "e.g.", "A.", "J.R.R.", "Inc.", "etc.", "vs.",
          "Hello.", "world.", "end.", "3.5", "12.", "5", "100", "(", ")", "[", "]", '"', "'", "“", "”", "‘", "’",
          "«", "»", "¿", "¡", "?", "!", "...", "..", ".", "?!", '."', '.)', ".”", "-", "--", "%", "Ünter",
          "Éva", "über", "日本", "Straße.", "He", "She", "the", "and", "It", "\n", "\n\n", " ", "  ", "\t",
          "\u00a0", "\r\n", "a.b.", "X-ray.", "St.", "Mt.", "Jan.", "Fig.", "Nos."]


def _random_text(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 40)):
        out.append(rng.choice(PIECES))
        out.append(rng.choice([" ", " ", " ", "", "  ", "\n"]))
    return "".join(out)


@pytest.mark.parametrize("language", ["en", "de", "fr", "pt"])
def test_sentences_equal_the_package_on_generated_tricky_texts(language):
    stock = SentenceSplitter(language)
    rng = random.Random(17)
    for _ in range(3000):
        text = _random_text(rng)
        assert sentences.split(text, language) == stock.split(text), text
        assert sentences.sentence_spans(text, language) == sentences.reference_spans(text, language, stock), text


def test_spans_map_sentences_back_to_the_original_text():
    text = "  Mr. Smith  left.\tHe said:  \"Go!\"  Then   he went home.\n\nThe end. "
    spans = sentences.sentence_spans(text)
    assert [" ".join(text[s:e].split()) for s, e in spans] == [" ".join(s.split()) for s in STOCK.split(text) if s]
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)


def test_empty_and_blank_texts():
    for text in ("", " ", "\n\n", "\t"):
        assert sentences.split(text) == STOCK.split(text)
        assert sentences.sentence_spans(text) == []


def test_unknown_language_is_a_clear_error():
    with pytest.raises(InputError, match="xx"):
        sentences.split("Hello there. Bye.", "xx")


def _starts(text: str) -> list[int]:
    return np.flatnonzero(np.diff(tokenize.tokens_before(text))).tolist()


@pytest.mark.parametrize("name", CORPORA)
def test_ascii_tokeniser_and_token_starts_equal_the_unicode_pattern(name):
    for doc in corpus(name):
        assert tokenize.words(doc) == tokenize._TOKEN_RE.findall(doc)
        lowered = doc.lower()
        assert tokenize.words(lowered) == tokenize._TOKEN_RE.findall(lowered)
        assert _starts(doc) == [m.start() for m in tokenize._TOKEN_RE.finditer(doc)]


def test_token_starts_on_generated_ascii_texts():
    rng = random.Random(7)
    alphabet = "ab19'-.,  \n"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert _starts(text) == [m.start() for m in tokenize._TOKEN_RE.finditer(text)], text


def test_ascii_tokeniser_on_joins():
    text = "don't well-known 3.5 1,000 a.b 1.a a--b -x x- 'quoted' 2,5,6 x'-y"
    assert text.isascii()
    assert tokenize.words(text) == tokenize._TOKEN_RE.findall(text)
    assert tokenize.words(text)[:4] == ["don't", "well-known", "3.5", "1,000"]
    before = tokenize.tokens_before(text)
    assert before[17] - before[0] == 2 and before[-1] == len(tokenize.words(text))
