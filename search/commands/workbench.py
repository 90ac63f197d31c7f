"""Word-vector workbench commands: compare, train, words, analogy, map.

Registered on the ``vecdex`` group by :mod:`vecdex.cli`; heavy modules are
imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from .shared import UserError, embedder_extras, embedder_options, input_options, json_option, open_store

# -- compare ------------------------------------------------------------------------------------


@click.command(epilog="""
\b
Examples:
  vecdex compare "I went to the bank to deposit money." "The river bank was full of trees." --word bank --embedder elmo
  vecdex compare "I went to the bank." "The river bank." --word bank            # static GloVe: always 1.0
  vecdex compare "He plays bass." "She caught a bass." --word bass --embedder elmo --model ./elmo3 --json
""")
@click.argument("sentence1")
@click.argument("sentence2")
@click.option("--word", required=True, help="The word whose two vectors are compared (first occurrence, any case).")
@embedder_options
@json_option
def compare(sentence1, sentence2, word, embedder, model, layer, pooling, as_json):
    """Cosine between WORD's vectors in SENTENCE1 and SENTENCE2.

    A contextual model (--embedder elmo) gives a word a different vector in each
    sentence; a static model gives it one vector everywhere (cosine 1.0).
    """
    from ...indexer.embedders.factory import create_embedder
    from ..workbench.compare import CompareError, compare_word

    kind = embedder or "static"
    extras = embedder_extras(kind, layer, pooling)
    try:
        result = compare_word(create_embedder(kind, model=model, **extras), sentence1, sentence2, word)
    except CompareError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.as_dict((sentence1, sentence2)), ensure_ascii=False))
        return
    how = ("contextual: the vector depends on the sentence" if result.contextual
           else "static: one vector per word, whatever the sentence")
    click.echo(f"{result.cosine:.4f}  cosine of {result.word!r} in the two sentences "
               f"({result.kind} {result.model}; {how})")


# -- embedding workbench: train, words, analogy, map, eval-model --------------------------------


def word_space(ctx: click.Context, model: str | None, collection: str | None):
    """The word model from --model, or the one a collection was built with (default: GloVe)."""
    from ..workbench.words import WordSpace, word_space_for_collection

    if model is not None and collection is not None:
        raise click.UsageError("give --model or --collection, not both")
    if collection is None:
        return WordSpace.load(model)
    with open_store(ctx) as vx:
        return word_space_for_collection(vx.collection(collection))


def word_model_options(fn: Callable) -> Callable:
    fn = click.option("--collection", "-c", default=None, metavar="NAME",
                      help="Use the word model this collection was built with.")(fn)
    return click.option("--model", default=None, metavar="SPEC",
                        help="Word-vector model (as for index --model) [default: glove-6b-50d].")(fn)


def _subword_note(space, words) -> None:
    for word in words:
        if not space.knows(word):
            click.echo(f"vecdex: note: {word!r} is not in the vocabulary of {space.name}; "
                       "its vector was built from subwords", err=True)


def _print_neighbours(neighbours, as_json: bool) -> None:
    if as_json:
        for n in neighbours:
            click.echo(json.dumps(n.as_dict(), ensure_ascii=False))
        return
    for rank, n in enumerate(neighbours, 1):
        click.echo(f"{rank:>3}. {n.score:.3f}  {n.word}")


@click.command(epilog="""
\b
Examples:
  vecdex train corpus.txt --format lines --out lee.kv
  vecdex train notes/ --algorithm fasttext --dim 100 --epochs 10 --out notes-ft.bin
  vecdex train data.jsonl --text-field body --sg --min-count 2 --out domain.kv
  vecdex index corpus.txt --format lines --model lee.kv --collection custom
\b
The extension of --out picks the format: .kv (gensim; fastText keeps subwords),
.bin (word2vec binary, or Facebook fastText .bin with subwords), .vec/.txt (text).
""")
@click.argument("paths", nargs=-1, required=True, metavar="CORPUS...")
@click.option("--out", "-o", required=True, metavar="PATH", help="Where to save the model (.kv, .bin, .vec, .txt).")
@click.option("--algorithm", type=click.Choice(["word2vec", "fasttext"]), default="word2vec", show_default=True,
              help="fasttext also learns character n-grams, so it has vectors for unseen words.")
@click.option("--dim", type=click.IntRange(min=1), default=100, show_default=True, help="Vector dimension.")
@click.option("--window", type=click.IntRange(min=1), default=5, show_default=True, help="Context window (words each side).")
@click.option("--min-count", type=click.IntRange(min=1), default=5, show_default=True,
              help="Ignore words rarer than this.")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True, help="Passes over the corpus.")
@click.option("--sg", is_flag=True, help="Skip-gram (default: CBOW); better for rare words, slower.")
@click.option("--negative", type=click.IntRange(min=0), default=5, show_default=True,
              help="Negative samples (0 = hierarchical softmax).")
@click.option("--buckets", type=click.IntRange(min=1), default=None,
              help="fastText n-gram hash buckets [default: 20 per vocabulary word, 20k-2M].")
@click.option("--keep-case", is_flag=True, help="Do not lowercase tokens (default: lowercase, like GloVe).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Training threads [default: cores, max 4].")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed (runs repeat exactly only with --workers 1).")
@input_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@json_option
def train(paths, out, algorithm, dim, window, min_count, epochs, sg, negative, buckets, keep_case, workers, seed,
          fmt, id_field, text_field, encoding, quiet, as_json):
    """Train word vectors (word2vec or fastText) on your own corpus.

    Reads the corpus like `index` does (same formats, same tokenizer), trains
    with gensim and saves a model that `--model` accepts. Reports the vocabulary
    size and the training time.
    """
    from ...indexer.readers import ReadOptions
    from ...indexer.training import TrainOptions
    from ...indexer.training import train as train_model

    options = TrainOptions(algorithm=algorithm, dimension=dim, window=window, min_count=min_count, epochs=epochs,
                           sg=sg, negative=negative, lowercase=not keep_case, seed=seed, buckets=buckets)
    if workers:
        options.workers = workers
    read_options = ReadOptions(format=fmt, id_field=id_field, text_field=text_field, encoding=encoding)
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        if quiet or not sys.stderr.isatty():
            return
        from tqdm import tqdm

        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(total=total, desc="reading" if stage == "read" else f"training {algorithm}",
                                     unit=" docs" if stage == "read" else " sentences", file=sys.stderr,
                                     dynamic_ncols=True, smoothing=0.1)
        bar.update(done - bar.n)

    try:
        report = train_model(paths, out, options, read_options, progress)
    finally:
        for bar in bars.values():
            bar.close()
    for problem in report.problems[:10]:
        click.echo(f"vecdex: skipped {problem.source}: {problem.message}", err=True)
    if report.failed > 10:
        click.echo(f"vecdex: ... and {report.failed - 10} more skipped records", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    if quiet:
        return
    kind = {"kv": "gensim KeyedVectors", "fasttext": "fastText .bin", "word2vec": "word2vec binary",
            "word2vec-text": "word2vec text"}[report.format]
    click.echo(
        f"trained {algorithm} on {report.documents:,} documents ({report.tokens:,} tokens): vocabulary "
        f"{report.vocabulary:,} words (of {report.distinct_words:,} seen; --min-count {min_count}), {report.dimension}d, "
        f"{epochs} epochs in {report.seconds_training:.1f}s (reading {report.seconds_reading:.1f}s)"
    )
    click.echo(f"saved {report.out} ({kind}); use it with: vecdex index CORPUS --model {report.out}")
    if report.tokens < 1_000_000 and epochs <= 5:
        click.echo("vecdex: note: on a corpus this small, word vectors need more passes: try --epochs 20 "
                   "(or --sg --epochs 10)", err=True)


@click.command(epilog="""
\b
Examples:
  vecdex words frog
  vecdex words bank -k 20 --restrict 50000      # among the 50,000 most frequent words
  vecdex words bushfire --model lee.kv --json
  vecdex words cricket --collection news        # the model the collection was built with
""")
@click.argument("word")
@word_model_options
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many words.")
@click.option("--restrict", type=click.IntRange(min=1), default=None, metavar="N",
              help="Only consider the N most frequent words of the model.")
@json_option
@click.pass_context
def words(ctx, word, model, collection, k, restrict, as_json):
    """Nearest words to WORD by cosine similarity.

    fastText models answer for words outside their vocabulary through subwords.
    """
    space = word_space(ctx, model, collection)
    neighbours = space.nearest(word, k, restrict=restrict)
    _subword_note(space, [word])
    _print_neighbours(neighbours, as_json)


@click.command(epilog="""
\b
Examples:
  vecdex analogy king man woman               # king - man + woman = queen
  vecdex analogy paris france germany -k 3    # berlin
  vecdex analogy walking walk swim --method mul --json
""")
@click.argument("a")
@click.argument("b")
@click.argument("c")
@word_model_options
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many answers.")
@click.option("--restrict", type=click.IntRange(min=1), default=None, metavar="N",
              help="Only consider the N most frequent words of the model.")
@click.option("--method", type=click.Choice(["add", "mul"]), default="add", show_default=True,
              help="add = 3CosAdd (word2vec, gensim); mul = 3CosMul (Levy & Goldberg).")
@json_option
@click.pass_context
def analogy(ctx, a, b, c, model, collection, k, restrict, method, as_json):
    """Solve A - B + C: the words closest to A minus B plus C, inputs excluded.

    "king man woman" asks: what is to woman as king is to man?
    """
    space = word_space(ctx, model, collection)
    neighbours = space.analogy(a, b, c, k, restrict=restrict, method=method)
    _subword_note(space, [a, b, c])
    if not as_json:
        click.echo(f"{a} - {b} + {c} ≈")
    _print_neighbours(neighbours, as_json)


@click.command("map", epilog="""
\b
Examples:
  vecdex map --collection news --color-by topic --out news.html
  vecdex map --collection news --method pca --sample 500 --out news.png
  vecdex map --words king,queen,paris,france,frog --neighbours 8 --out words.png
  vecdex map --words bushfire,cricket --model lee.kv --neighbours 10 --out lee-words.html
\b
PNG/SVG/PDF for reports; HTML is one self-contained page: hover a point for its
text, search, click legend entries. Collections larger than --sample are sampled.
Needs scikit-learn and matplotlib: pip install 'vecdex[map]'.
""")
@click.option("--collection", "-c", default=None, metavar="NAME",
              help="Map this collection's documents [default: 'default'], or take --words' model from it.")
@click.option("--words", "word_list", default=None, metavar="W1,W2,...", help="Map these words instead of documents.")
@click.option("--model", default=None, metavar="SPEC", help="Word model for --words [default: glove-6b-50d].")
@click.option("--neighbours", "--neighbors", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --words: add each word's N nearest words, coloured by the word.")
@click.option("--out", "-o", default="map.png", show_default=True, metavar="PATH",
              help="Output file: .png, .svg, .pdf or .html.")
@click.option("--method", type=click.Choice(["tsne", "pca"]), default="tsne", show_default=True,
              help="t-SNE shows neighbourhoods; PCA keeps global directions and is fast.")
@click.option("--sample", type=click.IntRange(min=2), default=2000, show_default=True,
              help="At most this many documents (a seeded random sample).")
@click.option("--color-by", default=None, metavar="FIELD", help="Colour documents by this metadata field.")
@click.option("--labels", type=click.IntRange(min=0), default=30, show_default=True,
              help="How many document points get their id written next to them.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling and t-SNE.")
@json_option
@click.pass_context
def map_command(ctx, collection, word_list, model, neighbours, out, method, sample, color_by, labels, seed, as_json):
    """Draw a 2-D map (t-SNE or PCA) of a collection's documents or of words."""
    from ..workbench.mapping import (
        collection_points,
        make_map,
        output_format,
        require_extras,
        word_points,
    )

    output_format(out)
    require_extras()
    if word_list is not None:
        if color_by:
            raise click.UsageError("--color-by colours documents; word maps are coloured by word (--neighbours)")
        space = word_space(ctx, model, collection)
        data = word_points(space, word_list.split(","), neighbours=neighbours)
    else:
        if model is not None or neighbours:
            raise click.UsageError("--model and --neighbours go with --words")
        with open_store(ctx) as vx:
            data = collection_points(vx.collection(collection or "default"), sample=sample, color_by=color_by,
                                     seed=seed)
    result = make_map(data, out, method=method, labels=labels, seed=seed)
    for note in result.notes:
        click.echo(f"vecdex: note: {note}", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    groups = ", ".join(f"{g} {n}" for g, n in sorted(result.groups.items(), key=lambda kv: -kv[1])[:8])
    click.echo(f"wrote {result.out}: {'t-SNE' if result.method == 'tsne' else 'PCA'} map of {result.points:,} "
               f"{result.kind}" + (f" (of {result.total:,})" if result.sampled else "")
               + (f", coloured by {result.color_by}" if result.color_by else "") + (f" ({groups})" if groups else ""))

