"""What every ``vecdex`` command shares: the error handling of the command group,
the store opener and the click options used by several commands.

Only click is imported here: ``vecdex --help`` must stay instant.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from ...errors import VecdexError
from .interrupts import exit_interrupted


class VecdexGroup(click.Group):
    """Turns user errors from any command into ``vecdex: error: ...`` and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            exit_interrupted()
        except Exception as exc:
            if isinstance(exc, VecdexError):
                raise UserError(str(exc)) from None
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, OperationalError):
                raise UserError(f"database error: {exc.orig}") from None
            if isinstance(exc, OverflowError):  # a number beyond what numpy/FAISS/SQLite hold
                raise UserError(f"a number is too large ({exc})") from None
            raise


class UserError(click.ClickException):
    """One line on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"vecdex: error: {self.format_message()}", err=True)


def open_store(ctx: click.Context, create: bool = False):
    from .. import Vecdex

    return Vecdex(ctx.obj["db"], create=create)


def collection_option(fn: Callable) -> Callable:
    return click.option("--collection", "-c", default="default", show_default=True, help="Collection name.")(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON lines for machines.")(fn)


def k_option(fn: Callable) -> Callable:
    return click.option("-k", "k", type=click.IntRange(min=1, max=2**31 - 1), default=10, show_default=True,
                        help="How many documents to return.")(fn)


def embedder_options(fn: Callable) -> Callable:
    """--embedder/--model/--layer/--pooling, shared by index and compare."""
    fn = click.option("--pooling", type=click.Choice(["sif", "mean", "max"]), default=None,
                      help="static: sif (weighted average minus the common component; the default) or mean "
                           "(plain average); elmo: mean (default) or max over token vectors.")(fn)
    fn = click.option("--layer", default=None, metavar="LAYER",
                      help="ELMo: what to pool: elmo (the module's learned mix, default), word_emb, "
                           "lstm_outputs1, lstm_outputs2, or three weights over those, e.g. 0.2,0.3,0.5.")(fn)
    fn = click.option("--model", default=None, metavar="SPEC",
                      help="static: 'glove-6b-50d' (default, built in) or a path, optionally prefixed "
                           "word2vec: / word2vec-text: / glove: / fasttext: / kv:. elmo: a TF Hub URL "
                           "(default https://tfhub.dev/google/elmo/3, from $TFHUB_CACHE_DIR when cached) "
                           "or a local SavedModel folder. transformer: all-MiniLM-L6-v2 (default, with "
                           "vecdex[transformer]) or a folder with model.onnx and tokenizer.json.")(fn)
    return click.option("--embedder", type=click.Choice(["static", "elmo", "transformer"]), default=None,
                        help="static = pooled word vectors (default for a new collection); elmo = contextual "
                             "ELMo vectors, one chunk per sentence (needs pip install 'vecdex[elmo]'); "
                             "transformer = sentence-transformers model on ONNX Runtime, all-MiniLM-L6-v2 "
                             "by default (needs pip install 'vecdex[transformer]').")(fn)


_STATIC_FLAGS = {"sif_a": "--sif-a", "word_freq": "--word-freq", "components": "--remove-components", "fit": "--fit"}


def embedder_extras(embedder: str | None, layer: str | None, pooling: str | None,
                     static: dict[str, Any] | None = None) -> dict[str, Any]:
    """Embedder options, passed on only when given (so opening an existing collection stays a plain open).

    ``static`` holds the static embedder's pooling options (see :func:`pooling_options`)."""
    static = {k: v for k, v in (static or {}).items() if v is not None}
    if embedder == "transformer":
        if static or layer is not None:
            flag = _STATIC_FLAGS[next(iter(static))] if static else "--layer"
            raise click.UsageError(f"{flag} does not apply to --embedder transformer")
        if pooling not in (None, "mean"):
            raise click.UsageError("--embedder transformer pools with mean only")
        return {}
    if embedder == "elmo":
        if static:
            raise click.UsageError(f"{_STATIC_FLAGS[next(iter(static))]} applies to static vectors only")
        return {k: v for k, v in (("layer", layer), ("pooling", pooling)) if v is not None}
    if layer is not None:
        raise click.UsageError("--layer applies to --embedder elmo only")
    if pooling == "max":
        raise click.UsageError("--pooling max applies to --embedder elmo only (static vectors: sif or mean)")
    return {**({"pooling": pooling} if pooling else {}), **static}


def input_options(fn: Callable) -> Callable:
    """How corpora are read: shared by every command that reads documents."""
    for option in reversed([
        click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "lines", "text", "parquet"]),
                     default="auto", show_default=True, help="Input format; auto decides by file extension."),
        click.option("--id-field", default="id", show_default=True, help="JSONL/CSV/Parquet field holding the document id."),
        click.option("--text-field", default="text", show_default=True, help="JSONL/CSV/Parquet field holding the text."),
        click.option("--encoding", default=None,
                     help="Input encoding (default: UTF-8, falling back to cp1252 with a warning)."),
    ]):
        fn = option(fn)
    return fn


def where_option(fn: Callable) -> Callable:
    return click.option("--where", "where", multiple=True, metavar="EXPR",
                        help="Metadata filter FIELD=VALUE, or != < > <= >= on numbers; repeatable (ANDed).")(fn)


def knob_options(fn: Callable) -> Callable:
    """--nprobe / --ef: per-search speed/recall knobs of approximate indexes."""
    fn = click.option("--ef", type=click.IntRange(min=1), default=None, metavar="N",
                      help="HNSW efSearch for this search (higher: better recall, slower).")(fn)
    return click.option("--nprobe", type=click.IntRange(min=1), default=None, metavar="N",
                        help="IVF lists probed for this search (higher: better recall, slower).")(fn)


INDEX_SPEC_HELP = ("Vector index: auto (default: exact while small, HNSW when large), flat, "
                   "hnsw:M=32,efConstruction=80,efSearch=64, ivf:nlist=1024,nprobe=16, ivfpq:m=10,nbits=8,rerank=1.")


def ranking_options(fn: Callable) -> Callable:
    """--mode, --fusion and the fusion weights (query, similar, eval)."""
    options = [
        click.option("--mode", type=click.Choice(["dense", "lexical", "hybrid"]), default=None,
                     help="dense = by meaning (vectors), lexical = by words (BM25), hybrid = both fused "
                          "[default: hybrid, chosen by measurement: bench/quality.py]."),
        click.option("--fusion", type=click.Choice(["score", "rrf", "minmax"]), default=None,
                     help="How hybrid fuses: score = cosine + weighted BM25/best BM25 (default; "
                          "transformer collections: score), rrf = reciprocal rank fusion, minmax = min-max "
                          "normalised scores."),
        click.option("--dense-weight", type=click.FloatRange(min=0), default=None, metavar="W",
                     help="Weight of the dense ranking in hybrid mode [default: 1]."),
        click.option("--lexical-weight", type=click.FloatRange(min=0), default=None, metavar="W",
                     help="Weight of the lexical ranking in hybrid mode [default: 3; transformer "
                          "collections: 1]."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def ranking_from(mode, fusion, dense_weight, lexical_weight):
    from ..hybrid import Ranking

    return Ranking.of(mode, fusion=fusion, dense_weight=dense_weight, lexical_weight=lexical_weight)


def pooling_options(fn: Callable) -> Callable:
    """Pooling of the static embedder for a new collection (index, eval)."""
    options = [
        click.option("--sif-a", type=click.FloatRange(min=0, min_open=True), default=None, metavar="A",
                     help="SIF weight a/(a+p(w)) parameter [default: 0.001]."),
        click.option("--word-freq", type=click.Choice(["zipf", "corpus"]), default=None,
                     help="p(w) for SIF: zipf = from the model's vocabulary order (default); corpus = "
                          "counted on the --fit corpus."),
        click.option("--remove-components", "components", type=click.IntRange(0, 16), default=None, metavar="N",
                     help="Common components to project out [default: 1 with sif, 0 with mean]."),
        click.option("--fit", default=None, metavar="SOURCE",
                     help="What components/frequencies are fitted on: model (default; no data needed), "
                          "collection (refitted as it grows; see 'vecdex refit'), or a text file PATH "
                          "(one document per line)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def given_pooling(pooling, sif_a=None, word_freq=None, components=None, fit=None) -> dict[str, Any]:
    """Only the options the user set: an existing collection keeps its own."""
    given = {"pooling": pooling, "sif_a": sif_a, "word_freq": word_freq, "components": components, "fit": fit}
    return {key: value for key, value in given.items() if value is not None}
