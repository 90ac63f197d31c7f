"""The ``vecdex`` command line: a thin skin over :mod:`search` (the Python API).

Commands parse options, call the library and print. Heavy modules (numpy,
SQLAlchemy, FAISS, models) are imported inside commands so ``vecdex --help``
stays instant. User errors become one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from .errors import VecdexError

EXAMPLES = """
\b
Examples:
  vecdex index notes/                        # every .txt/.md file, id = relative path
  vecdex index articles.jsonl --id-field url --text-field body
  vecdex index corpus.txt --format lines     # one document per line, id = line number
  vecdex query "flooding after heavy rain" -k 5
  vecdex query "election results" --where year>=2020 --where lang=en --json
  vecdex similar notes/today.md
  vecdex query "XJ-9000 launch" --mode lexical # exact words (BM25) instead of meaning
  vecdex eval --queries q.tsv --qrels qrels.txt # MRR@10, nDCG@10, recall@k of a collection
  vecdex info
"""


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
            click.echo("vecdex: interrupted (everything committed so far is kept; run the command again to finish)", err=True)
            sys.exit(130)
        except Exception as exc:
            if isinstance(exc, VecdexError):
                raise UserError(str(exc)) from None
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, OperationalError):
                raise UserError(f"database error: {exc.orig}") from None
            raise


class UserError(click.ClickException):
    """One line on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"vecdex: error: {self.format_message()}", err=True)


def _open(ctx: click.Context, create: bool = False):
    from .search import Vecdex

    return Vecdex(ctx.obj["db"], create=create)


def collection_option(fn: Callable) -> Callable:
    return click.option("--collection", "-c", default="default", show_default=True, help="Collection name.")(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON lines for machines.")(fn)


def k_option(fn: Callable) -> Callable:
    return click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
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
                           "or a local SavedModel folder.")(fn)
    return click.option("--embedder", type=click.Choice(["static", "elmo"]), default=None,
                        help="static = pooled word vectors (default for a new collection); elmo = contextual "
                             "ELMo vectors, one chunk per sentence (needs pip install 'vecdex[elmo]').")(fn)


_STATIC_FLAGS = {"sif_a": "--sif-a", "word_freq": "--word-freq", "components": "--remove-components", "fit": "--fit"}


def _embedder_extras(embedder: str | None, layer: str | None, pooling: str | None,
                     static: dict[str, Any] | None = None) -> dict[str, Any]:
    """Embedder options, passed on only when given (so opening an existing collection stays a plain open).

    ``static`` holds the static embedder's pooling options (see :func:`pooling_options`)."""
    static = {k: v for k, v in (static or {}).items() if v is not None}
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
        click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "lines", "text"]),
                     default="auto", show_default=True, help="Input format; auto decides by file extension."),
        click.option("--id-field", default="id", show_default=True, help="JSONL/CSV field holding the document id."),
        click.option("--text-field", default="text", show_default=True, help="JSONL/CSV field holding the text."),
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
                     help="How hybrid fuses: score = cosine + weighted BM25/best BM25 (default), rrf = "
                          "reciprocal rank fusion, minmax = min-max normalised scores."),
        click.option("--dense-weight", type=click.FloatRange(min=0), default=None, metavar="W",
                     help="Weight of the dense ranking in hybrid mode [default: 1]."),
        click.option("--lexical-weight", type=click.FloatRange(min=0), default=None, metavar="W",
                     help="Weight of the lexical ranking in hybrid mode [default: 3]."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _ranking(mode, fusion, dense_weight, lexical_weight):
    from .search.hybrid import Ranking

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


def _pooling(pooling, sif_a=None, word_freq=None, components=None, fit=None) -> dict[str, Any]:
    """Only the options the user set: an existing collection keeps its own."""
    given = {"pooling": pooling, "sif_a": sif_a, "word_freq": word_freq, "components": components, "fit": fit}
    return {key: value for key, value in given.items() if value is not None}


@click.group(cls=VecdexGroup, epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="VECDEX_DB", default="vecdex.db", show_default=True, metavar="PATH",
              help="The store (SQLite file); also $VECDEX_DB.")
@click.version_option(package_name="vecdex", message="vecdex %(version)s")
@click.pass_context
def main(ctx: click.Context, db: str) -> None:
    """vecdex: index your documents and search them by meaning.

    Documents are split into sentence chunks, embedded with word vectors
    (GloVe 6B 50d built in, or your word2vec/GloVe/fastText/gensim model) or
    contextual ELMo vectors (--embedder elmo, with vecdex[elmo]), and stored in
    one SQLite file; FAISS index files beside it make queries fast.
    """
    ctx.obj = {"db": db}


# -- index --------------------------------------------------------------------------------


@main.command(epilog="""
\b
Examples:
  vecdex index docs/                                 # .txt/.md/.rst files, recursively
  vecdex index data.jsonl --id-field id --text-field body
  vecdex index data.csv --text-field abstract       # other columns become metadata
  vecdex index corpus.txt --format lines             # one document per line
  cat notes.txt | vecdex index - --format lines
  vecdex index docs/ --model word2vec:GoogleNews.bin --collection news300
  vecdex index docs/ --embedder elmo --collection ctx        # contextual ELMo (TF Hub google/elmo/3)
  vecdex index docs/ --pooling mean --collection plain       # plain averaging instead of SIF
  vecdex index docs/ --fit background.txt                    # common component of your own corpus
""")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@collection_option
@embedder_options
@input_options
@click.option("--chunk-tokens", type=click.IntRange(min=8), default=None,
              help="Token budget per chunk for a new collection [default: 128].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--index", "index_spec", default=None, metavar="SPEC", help=INDEX_SPEC_HELP + " New collections only.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record (exit 1); its batch is not written.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@pooling_options
@json_option
@click.pass_context
def index(ctx, paths, collection, model, embedder, layer, pooling, fmt, id_field, text_field, encoding, chunk_tokens,
          workers, index_spec, strict, quiet, sif_a, word_freq, components, fit, as_json):
    """Add or update documents from files, folders, JSONL, CSV, lines or stdin (-).

    Documents are upserted by id: changed ones are re-embedded, unchanged ones
    skipped. Bad records are reported and skipped (or, with --strict, stop the run).
    """
    from .indexer.chunking import ChunkingSpec
    from .indexer.readers import ReadOptions, read_inputs

    options = ReadOptions(format=fmt, id_field=id_field, text_field=text_field, encoding=encoding, strict=strict)
    items = read_inputs(paths, options)  # checks every path before anything is opened
    first = next(items, None)
    vx = _open(ctx, create=True)
    with vx:
        # ELMo reads one sentence at a time: its chunks stay sentences, --chunk-tokens only caps them.
        unit = "sentence" if embedder == "elmo" else "budget"
        chunking = ChunkingSpec(max_tokens=chunk_tokens, unit=unit) if chunk_tokens else None
        static = {"sif_a": sif_a, "word_freq": word_freq, "components": components, "fit": fit}
        coll = vx.collection(collection, create=True, embedder=embedder, model=model, chunking=chunking,
                             index=index_spec, **_embedder_extras(embedder, layer, pooling, static))
        progress = _progress_bar(quiet)
        try:
            report = coll.add(_chain(first, items), strict=strict, workers=workers,
                              progress=progress.update if progress is not None else None)
        finally:
            if progress is not None:
                progress.close()
        for ext, count in sorted(options.skipped_extensions.items()):
            kind = "without an extension" if ext == "(no extension)" else f"with extension {ext}"
            report.notes[f"{_plural(count, 'file')} {kind} not indexed (--format text indexes them)"] = 0
        _print_index_report(report, coll.name, quiet, as_json)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _chain(first, rest):
    if first is not None:
        yield first
    yield from rest


def _progress_bar(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit=" docs", desc="indexing", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def _print_index_report(report, collection: str, quiet: bool, as_json: bool) -> None:
    shown = 0
    for problem in report.problems:
        if shown == 10:
            break
        click.echo(f"vecdex: skipped {problem.source}: {problem.message}", err=True)
        shown += 1
    if report.failed > shown:
        click.echo(f"vecdex: ... and {report.failed - shown} more skipped records", err=True)
    for note, count in report.notes.items():
        click.echo(f"vecdex: note: {_plural(count, 'document') + ' ' if count else ''}{note}", err=True)
    if report.no_vectors:
        click.echo(f"vecdex: note: {report.no_vectors} documents have no word the model knows: stored, "
                   "but no vector (they cannot be found by meaning)", err=True)
    if as_json:
        click.echo(json.dumps({"collection": collection, **report.as_dict()}))
        return
    if quiet:
        return
    rate = report.documents / report.seconds if report.seconds > 0 else 0.0
    dup = f", {report.duplicates} duplicate ids (last kept)" if report.duplicates else ""
    click.echo(
        f"{collection}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.failed} failed{dup} — {report.chunks} chunks in {report.seconds:.1f}s ({rate:,.0f} docs/s)"
    )


# -- query / similar ----------------------------------------------------------------------------


def _print_hits(hits, query: str | None, as_json: bool) -> None:
    if as_json:
        for hit in hits:
            click.echo(json.dumps(hit.as_dict(query), ensure_ascii=False))
        return
    if not hits:
        click.echo("no matching documents")
        return
    for hit in hits:
        meta = f"  {json.dumps(hit.metadata, ensure_ascii=False)}" if hit.metadata else ""
        click.echo(f"{hit.rank:>3}. {hit.score:.3f}  {hit.id}{meta}")
        click.echo(f"     {hit.snippet}")


@main.command(epilog="""
\b
Examples:
  vecdex query "bushfires near Sydney"
  vecdex query "interest rates" -k 3 --where year>=2000 --json
  vecdex query --queries questions.txt --json       # one query per line
  vecdex query "interest rates" --ef 256            # HNSW: better recall, slower
  vecdex query --vector "[0.12, -0.3, ...]" -c myvectors   # a collection of your own vectors
  vecdex query "XJ-9000" --mode lexical              # exact words (BM25)
  vecdex query "rate rise" --mode hybrid --fusion rrf --lexical-weight 2
""")
@click.argument("text", required=False)
@click.option("--queries", type=click.File("r", encoding="utf-8"), default=None, metavar="FILE",
              help="Run one query per line of FILE (- for stdin).")
@click.option("--vector", default=None, metavar="JSON",
              help="Search by a vector (JSON list or comma-separated numbers) instead of text.")
@k_option
@collection_option
@where_option
@knob_options
@ranking_options
@json_option
@click.pass_context
def query(ctx, text, queries, vector, k, collection, where, nprobe, ef, mode, fusion, dense_weight, lexical_weight,
          as_json):
    """Find the documents that best match TEXT: by meaning, by words, or both (default)."""
    from .search import QueryError

    if sum(x is not None for x in (text, queries, vector)) != 1:
        raise click.UsageError("give one of: a query TEXT, --queries FILE, --vector JSON")
    ranking = _ranking(mode, fusion, dense_weight, lexical_weight)
    with _open(ctx) as vx:
        coll = vx.collection(collection)
        if vector is not None:
            _print_hits(coll.search_vector(_parse_vector(vector), k, where, nprobe=nprobe, ef=ef), None, as_json)
            return
        if text is not None:
            _print_hits(coll.search(text, k, where, mode=ranking, nprobe=nprobe, ef=ef), text, as_json)
            return
        failed = 0
        # Queries are embedded in groups (a contextual model batches them) and
        # printed in file order as each group is done.
        size = 1 if queries.isatty() else QUERY_GROUP  # typed queries are answered one by one
        for group in _groups((line.strip() for line in queries if line.strip()), size):
            for line, hits in zip(group, coll.search_many(group, k, where, mode=ranking, nprobe=nprobe, ef=ef)):
                if not as_json:
                    click.echo(f"== {line}")
                if isinstance(hits, QueryError):
                    failed += 1
                    click.echo(f"vecdex: error: {hits}", err=True)
                    continue
                _print_hits(hits, line, as_json)
        if failed:
            sys.exit(1)


QUERY_GROUP = 64


def _groups(items, size: int):
    group: list[str] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


@main.command(epilog="""
\b
Examples:
  vecdex similar 42
  vecdex similar notes/today.md -k 5 --json
""")
@click.argument("doc_id")
@k_option
@collection_option
@where_option
@knob_options
@ranking_options
@json_option
@click.pass_context
def similar(ctx, doc_id, k, collection, where, nprobe, ef, mode, fusion, dense_weight, lexical_weight, as_json):
    """Documents most like the stored document DOC_ID (itself excluded)."""
    ranking = _ranking(mode, fusion, dense_weight, lexical_weight)
    with _open(ctx) as vx:
        _print_hits(vx.collection(collection).similar(doc_id, k, where, mode=ranking, nprobe=nprobe, ef=ef), None, as_json)


def _parse_vector(text: str) -> list[float]:
    try:
        values = json.loads(text) if text.lstrip().startswith("[") else [float(x) for x in text.split(",")]
        return [float(x) for x in values]
    except (ValueError, TypeError):
        raise UserError("--vector must be a JSON list or comma-separated numbers, e.g. [0.1, -0.2, 0.3]") from None


# -- approximate indexes and your own vectors ---------------------------------------------------


@main.command(epilog="""
\b
Examples:
  vecdex reindex                                     # rebuild (auto chooses afresh)
  vecdex reindex --index hnsw:M=32,efSearch=128      # switch to HNSW with these settings
  vecdex reindex -c news --index ivf:nlist=2048,nprobe=32
  vecdex reindex --index flat                        # exact search
""")
@collection_option
@click.option("--index", "index_spec", default=None, metavar="SPEC", help=INDEX_SPEC_HELP)
@json_option
@click.pass_context
def reindex(ctx, collection, index_spec, as_json):
    """Rebuild a collection's vector index, with another SPEC if given."""
    from .storage.ann.spec import format_spec

    with _open(ctx) as vx:
        result = vx.collection(collection).reindex(index_spec)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"{collection}: index {format_spec(result['index'])} built in {result['seconds']:.1f}s")


@main.command("add-vectors", epilog="""
\b
Each line of FILE is a JSON object: {"id": ..., "vector": [...], "text": ..., "metadata": {...}}
(text and metadata optional). The first vector sets the collection's dimension.
\b
Examples:
  vecdex add-vectors embeddings.jsonl -c myvectors
  vecdex query --vector "[0.1, 0.2, ...]" -c myvectors -k 5
""")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@collection_option
@click.option("--model", default=None, metavar="NAME", help="Name of the model that made the vectors (recorded).")
@click.option("--index", "index_spec", default=None, metavar="SPEC", help=INDEX_SPEC_HELP + " New collections only.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
@json_option
@click.pass_context
def add_vectors(ctx, file, collection, model, index_spec, quiet, as_json):
    """Add or update documents with your own precomputed vectors (JSONL)."""
    ids, vectors, texts, metadata = [], [], [], []
    for number, line in enumerate(file, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            ids.append(str(record["id"]))
            vectors.append([float(x) for x in record["vector"]])
            texts.append(str(record.get("text") or ""))
            metadata.append(dict(record.get("metadata") or {}))
        except (ValueError, TypeError, KeyError) as exc:
            raise UserError(f"{file.name}:{number}: need a JSON object with id and vector ({exc})") from None
    if not ids:
        raise UserError(f"{file.name}: no vectors")
    with _open(ctx, create=True) as vx:
        if vx.store.get_collection(collection) is None:
            coll = vx.collection(collection, create=True, embedder="precomputed", dimension=len(vectors[0]),
                                 model=model, index=index_spec)
        else:  # add_vectors checks the kind and the dimension
            coll = vx.collection(collection, index=index_spec)
        report = coll.add_vectors(ids, vectors, texts, metadata)
    if as_json:
        click.echo(json.dumps({"collection": collection, **report.as_dict()}, ensure_ascii=False))
    elif not quiet:
        click.echo(f"{collection}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged "
                   f"in {report.seconds:.1f}s")


# -- compare ------------------------------------------------------------------------------------


@main.command(epilog="""
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
    from .indexer.embedders.factory import create_embedder
    from .search.workbench.compare import CompareError, compare_word

    kind = embedder or "static"
    extras = _embedder_extras(kind, layer, pooling)
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


# -- delete / info / collections / get -------------------------------------------------------


@main.command(epilog="""
\b
Example:
  vecdex delete notes/old.md notes/draft.md
""")
@click.argument("doc_ids", nargs=-1, required=True, metavar="DOC_ID...")
@collection_option
@click.pass_context
def delete(ctx, doc_ids, collection):
    """Delete documents by id."""
    with _open(ctx) as vx:
        missing = vx.collection(collection).delete(list(doc_ids))
    deleted = len(set(doc_ids)) - len(set(missing))
    if deleted:
        click.echo(f"{collection}: {deleted} deleted")
    if missing:
        raise UserError(f"not found in {collection!r}: {', '.join(missing[:10])}"
                                   + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))


@main.command(epilog="""
\b
Examples:
  vecdex info
  vecdex info --collection news --json
""")
@collection_option
@json_option
@click.pass_context
def info(ctx, collection, as_json):
    """Counts, model, dimension, index and sizes of a collection."""
    with _open(ctx) as vx:
        stats = vx.collection(collection).stats()
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False))
        return
    spec = stats["embedder"]
    fingerprint = str(spec.get("fingerprint", ""))[:19]
    index_file = stats["index_file"]
    rows = [
        ("collection", stats["collection"]),
        ("documents", f"{stats['documents']:,}"),
        ("chunks", f"{stats['chunks']:,}"),
        ("model", f"{stats['model']} ({spec.get('kind')}, {stats['dimension']}d, {fingerprint}…)"),
        ("pooling", f"{_pooling_text(spec)}; chunks of ≤{stats['chunking'].get('max_tokens')} tokens "
                    f"({stats['chunking'].get('unit')})"),
        ("index", f"{stats.get('index_description') or _spec_text(stats['index'])}; "
                  + (f"{index_file.rsplit('/', 1)[-1]} ({_size(stats['index_file_bytes'])}"
                     f"{', up to date' if stats['index_up_to_date'] else ', will catch up on next query'})"
                     if index_file else "no file yet (built on first query)")),
        ("database", f"{stats['db_path']} ({_size(stats['db_bytes'])})"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")


def _pooling_text(spec: dict[str, Any]) -> str:
    text = str(spec.get("pooling", "-"))
    if text == "sif":
        text += f" a={spec.get('sif_a')} p(w)={spec.get('word_freq')}"
    if spec.get("components"):
        fitted = (spec.get("fitted") or {}).get("components")
        text += f", {spec['components']} component(s) removed, fitted on {spec.get('fit')}"
        text += "" if fitted else " (not yet: too few chunks)"
    return text


def _spec_text(spec: dict[str, Any]) -> str:
    params = ",".join(f"{k}={v}" for k, v in spec.items() if k != "type")
    return spec.get("type", "?") + (f":{params}" if params else "")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


@main.command(epilog="""
\b
Examples:
  vecdex collections
  vecdex collections --json
""")
@json_option
@click.pass_context
def collections(ctx, as_json):
    """List the collections in the store."""
    with _open(ctx) as vx:
        for info in vx.collections():
            n_docs, n_chunks = vx.store.counts(info.id)
            row = {"collection": info.name, "documents": n_docs, "chunks": n_chunks,
                   "model": info.embedder.get("model"), "embedder": info.embedder.get("kind"),
                   "dimension": info.embedder.get("dimension"), "index": info.index_spec.get("type")}
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(f"{info.name}\t{n_docs:,} documents\t{row['embedder']} {row['model']} "
                           f"({row['dimension']}d)\t{row['index']}")


@main.command(epilog="""
\b
Example:
  vecdex get notes/today.md --json
""")
@click.argument("doc_id")
@collection_option
@json_option
@click.pass_context
def get(ctx, doc_id, collection, as_json):
    """Print a stored document (text and metadata)."""
    with _open(ctx) as vx:
        doc = vx.collection(collection).get(doc_id)
    if doc is None:
        raise UserError(f"no document with id {doc_id!r} in collection {collection!r}")
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        if doc["metadata"]:
            click.echo(json.dumps(doc["metadata"], ensure_ascii=False))
        click.echo(doc["text"])


# -- eval / refit ----------------------------------------------------------------------------------


@main.command("eval", epilog="""
\b
Examples:
  vecdex eval --queries queries.tsv --qrels qrels.txt            # against collection 'default'
  vecdex eval --queries q.jsonl --qrels qrels.jsonl --mode dense --mode lexical --mode hybrid
  vecdex eval --corpus docs.jsonl --queries q.tsv --qrels r.txt --pooling mean   # a fresh configuration
  vecdex eval --pairs sts.tsv                                    # Pearson/Spearman of cosine
  vecdex eval --matrix similarities0-1.txt --texts lee.cor       # the Lee 50x50 set
\b
Files: queries = TSV 'id<TAB>text' or JSONL {"id","text"[,"relevant"]}; qrels = TREC
'qid 0 docid rel' or JSONL {"query_id","doc_id","relevance"}; pairs = TSV
'score<TAB>text1<TAB>text2' or JSONL {"text1","text2","score"}.
""")
@click.option("--queries", "queries_path", type=click.Path(dir_okay=False), default=None, help="Queries file.")
@click.option("--qrels", "qrels_path", type=click.Path(dir_okay=False), default=None,
              help="Relevance judgements (optional when the JSONL queries carry 'relevant').")
@click.option("--corpus", type=click.Path(exists=True), default=None,
              help="Index this into a temporary collection built with the given --model/pooling options "
                   "instead of using a stored collection.")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "lines", "text"]), default="auto",
              show_default=True, help="Format of --corpus.")
@click.option("--id-field", default="id", show_default=True, help="--corpus JSONL/CSV id field.")
@click.option("--text-field", default="text", show_default=True, help="--corpus JSONL/CSV text field.")
@click.option("--pairs", "pairs_path", type=click.Path(dir_okay=False), default=None, help="Pair-similarity file.")
@click.option("--matrix", "matrix_path", type=click.Path(dir_okay=False), default=None,
              help="Square matrix of human similarity scores (with --texts).")
@click.option("--texts", "texts_path", type=click.Path(dir_okay=False), default=None,
              help="The matrix's texts, one per line.")
@click.option("--recall-k", default="10,100", show_default=True, metavar="K,...", help="Cut-offs for recall@k.")
@click.option("--model", default=None, metavar="SPEC", help="Word-vector model for --corpus/--pairs/--matrix.")
@collection_option
@click.option("--pooling", type=click.Choice(["sif", "mean"]), default=None,
              help="Static vectors: sif (default) or mean (plain average).")
@pooling_options
@click.option("--mode", "modes", type=click.Choice(["dense", "lexical", "hybrid"]), multiple=True,
              help="Ranking mode(s) to evaluate; repeatable [default: hybrid].")
@click.option("--fusion", type=click.Choice(["score", "rrf", "minmax"]), default=None, help="Hybrid fusion.")
@click.option("--dense-weight", type=click.FloatRange(min=0), default=None, metavar="W", help="Hybrid dense weight.")
@click.option("--lexical-weight", type=click.FloatRange(min=0), default=None, metavar="W", help="Hybrid lexical weight.")
@json_option
@click.pass_context
def eval_command(ctx, queries_path, qrels_path, corpus, fmt, id_field, text_field, pairs_path, matrix_path,
                 texts_path, recall_k, model, collection, pooling, sif_a, word_freq, components, fit, modes,
                 fusion, dense_weight, lexical_weight, as_json):
    """Score retrieval (MRR@10, nDCG@10, P@10, recall@k) or pair similarity (Pearson, Spearman)."""
    pooling_given = _pooling(pooling, sif_a, word_freq, components, fit)
    kinds = [bool(queries_path), bool(pairs_path), bool(matrix_path or texts_path)]
    if sum(kinds) != 1:
        raise click.UsageError("give one of --queries (retrieval), --pairs, or --matrix with --texts")
    if kinds[0]:
        _eval_retrieval(ctx, queries_path, qrels_path, corpus, fmt, id_field, text_field, recall_k, model,
                        collection, pooling_given, modes, fusion, dense_weight, lexical_weight, as_json)
    else:
        if matrix_path and not texts_path or texts_path and not matrix_path:
            raise click.UsageError("--matrix and --texts go together")
        _eval_pairs(ctx, pairs_path, matrix_path, texts_path, model, collection, pooling_given, as_json)


def _eval_retrieval(ctx, queries_path, qrels_path, corpus, fmt, id_field, text_field, recall_k, model, collection,
                    pooling_given, modes, fusion, dense_weight, lexical_weight, as_json):
    import os
    import tempfile

    from .search import QueryError, Vecdex
    from .search.workbench.evaluate import evaluate_retrieval, load_qrels, load_queries

    try:
        recall_ks = sorted({int(x) for x in recall_k.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter("expected numbers like 10,100", param_hint="--recall-k") from None
    if not recall_ks or min(recall_ks) < 1:
        raise click.BadParameter("expected numbers like 10,100", param_hint="--recall-k")
    queries, inline = load_queries(queries_path)
    qrels = load_qrels(qrels_path) if qrels_path else {}
    for qid, judged in inline.items():
        qrels.setdefault(qid, {}).update(judged)
    if not qrels:
        raise click.UsageError("no relevance judgements: give --qrels or 'relevant' in the JSONL queries")
    rankings = [_ranking(m, fusion, dense_weight, lexical_weight) for m in (modes or (None,))]
    with tempfile.TemporaryDirectory() as tmp:
        if corpus:
            from .indexer.readers import ReadOptions, read_inputs

            vx = Vecdex(os.path.join(tmp, "eval.db"))
            coll = vx.collection("eval", create=True, model=model, **pooling_given)
            report = coll.add(read_inputs([corpus], ReadOptions(format=fmt, id_field=id_field, text_field=text_field)))
            if report.failed and not as_json:
                click.echo(f"note: {report.failed} corpus record(s) skipped", err=True)
        else:
            if model or pooling_given:
                raise click.UsageError("--model and pooling options describe a new configuration: use them with --corpus")
            vx = _open(ctx)
            coll = vx.collection(collection)
        with vx:
            for ranking in rankings:
                result = evaluate_retrieval(lambda text, k: [h.id for h in coll.search(text, k, mode=ranking)],
                                            queries, qrels, recall_ks, on_error=QueryError)
                row = {"mode": ranking.mode, "queries": result.queries,
                       **{name: round(value, 6) for name, value in result.metrics.items()}}
                if ranking.mode == "hybrid":
                    row.update(fusion=ranking.fusion, dense_weight=ranking.dense_weight,
                               lexical_weight=ranking.lexical_weight)
                if as_json:
                    click.echo(json.dumps(row))
                else:
                    label = ranking.mode + (f" ({ranking.fusion} {ranking.dense_weight:g}:{ranking.lexical_weight:g})"
                                            if ranking.mode == "hybrid" else "")
                    metrics = "  ".join(f"{n}={v:.4f}" for n, v in result.metrics.items())
                    click.echo(f"{label:24s} queries={result.queries}  {metrics}")
                    if result.skipped:
                        click.echo(f"  ({len(result.skipped)} queries skipped or unanswered)")


def _eval_pairs(ctx, pairs_path, matrix_path, texts_path, model, collection, pooling_given, as_json):
    import numpy as np

    from .indexer.embedders.factory import create_embedder
    from .search.workbench.evaluate import correlate, load_matrix_pairs, load_pairs

    if pairs_path:
        left_texts, right_texts, gold = load_pairs(pairs_path)
        texts = list(dict.fromkeys(left_texts + right_texts))
        position = {t: i for i, t in enumerate(texts)}
        left, right = [position[t] for t in left_texts], [position[t] for t in right_texts]
    else:
        texts, pairs, gold = load_matrix_pairs(matrix_path, texts_path)
        left, right = [i for i, _ in pairs], [j for _, j in pairs]
    if model or pooling_given or collection == "default" and not _has_collection(ctx, collection):
        embedder = create_embedder("static", model=model, **pooling_given)
    else:
        with _open(ctx) as vx:
            embedder = vx.collection(collection).embedder
    if getattr(embedder, "needs_collection_fit", False) and not (embedder.spec.get("fitted") or {}).get("documents"):
        embedder = embedder.fitted_on(texts)  # "fit on the collection" = on the texts being compared
    vectors = embedder.embed(texts).vectors
    scores = correlate(vectors[np.asarray(left)], vectors[np.asarray(right)], gold)
    row = {"pairs": scores["pairs"], "pearson": round(scores["pearson"], 6), "spearman": round(scores["spearman"], 6),
           "pooling": embedder.spec.get("pooling"), "components": embedder.spec.get("components"),
           "fit": embedder.spec.get("fit"), "model": embedder.spec.get("model")}
    if as_json:
        click.echo(json.dumps(row))
    else:
        click.echo(f"pairs={row['pairs']}  pearson={row['pearson']:.4f}  spearman={row['spearman']:.4f}  "
                   f"({row['model']}, pooling={row['pooling']}, components={row['components']}, fit={row['fit']})")


def _has_collection(ctx, name: str) -> bool:
    import os

    if not os.path.exists(ctx.obj["db"]):
        return False
    with _open(ctx) as vx:
        return any(c.name == name for c in vx.collections())

# -- embedding workbench: train, words, analogy, map, eval-model --------------------------------


def _word_space(ctx: click.Context, model: str | None, collection: str | None):
    """The word model from --model, or the one a collection was built with (default: GloVe)."""
    from .search.workbench.words import WordSpace, word_space_for_collection

    if model is not None and collection is not None:
        raise click.UsageError("give --model or --collection, not both")
    if collection is None:
        return WordSpace.load(model)
    with _open(ctx) as vx:
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


@main.command(epilog="""
\b
Example:
  vecdex index docs/ --fit collection   # components fitted on the collection itself
  vecdex refit                          # refit now and re-embed every chunk (one transaction)
""")
@collection_option
@json_option
@click.pass_context
def refit(ctx, collection, as_json):
    """Refit a collection-fitted pooling state on its documents and re-embed them.

    Collections with --fit collection are refitted automatically whenever they
    have doubled in size; this forces it. Others have nothing to refit.
    """
    with _open(ctx) as vx:
        result = vx.collection(collection).refit()
    if as_json:
        click.echo(json.dumps(result))
    elif result["refitted"]:
        click.echo(f"refitted {collection}: {result['chunks']} chunks re-embedded "
                   f"(components: {'yes' if result['components'] else 'not yet, too few chunks'}; "
                   f"corpus word frequencies: {'yes' if result['corpus_word_freq'] else 'no'})")
    else:
        click.echo(f"nothing to refit: {result['reason']}")


@main.command(epilog="""
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
    from .indexer.readers import ReadOptions
    from .indexer.training import TrainOptions
    from .indexer.training import train as train_model

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


@main.command(epilog="""
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
    space = _word_space(ctx, model, collection)
    neighbours = space.nearest(word, k, restrict=restrict)
    _subword_note(space, [word])
    _print_neighbours(neighbours, as_json)


@main.command(epilog="""
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
    space = _word_space(ctx, model, collection)
    neighbours = space.analogy(a, b, c, k, restrict=restrict, method=method)
    _subword_note(space, [a, b, c])
    if not as_json:
        click.echo(f"{a} - {b} + {c} ≈")
    _print_neighbours(neighbours, as_json)


@main.command("map", epilog="""
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
    from .search.workbench.mapping import (
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
        space = _word_space(ctx, model, collection)
        data = word_points(space, word_list.split(","), neighbours=neighbours)
    else:
        if model is not None or neighbours:
            raise click.UsageError("--model and --neighbours go with --words")
        with _open(ctx) as vx:
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


@main.command("eval-model", epilog="""
\b
Examples:
  vecdex eval-model                          # the built-in GloVe 6B 50d
  vecdex eval-model --model lee.kv --no-analogies
  vecdex eval-model --model glove-6b-50d --model domain.kv   # side by side
  vecdex eval-model --model word2vec:GoogleNews.bin --restrict-vocab 30000 --json
  vecdex eval-model --pairs my-pairs.tsv --analogies my-questions.txt
\b
Word similarity: WordSim-353 and SimLex-999 (Spearman/Pearson of cosine vs human
ratings). Analogies: questions-words.txt (accuracy, 3CosAdd). Files from gensim's
test data; rules as gensim's evaluate_word_pairs / evaluate_word_analogies.
Pairs and questions with words a model does not know are skipped and counted:
compare models on how much they cover as well as on their scores.
""")
@click.option("--model", "models", multiple=True, metavar="SPEC",
              help="Word-vector model (as for index --model); repeat to compare [default: glove-6b-50d].")
@click.option("--collection", "-c", default=None, metavar="NAME", help="Use the model this collection was built with.")
@click.option("--restrict-vocab", type=click.IntRange(min=1), default=300_000, show_default=True,
              help="Only the N most frequent words count as known (gensim's default).")
@click.option("--pairs", "pair_files", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Word-pair file(s) (word<TAB>word<TAB>rating) instead of WordSim-353 and SimLex-999.")
@click.option("--analogies", "analogy_file", type=click.Path(exists=True, dir_okay=False), default=None,
              metavar="FILE", help="Analogy file instead of questions-words.txt.")
@click.option("--no-analogies", is_flag=True, help="Skip the analogy test (the slow part).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
@click.pass_context
def eval_model(ctx, models, collection, restrict_vocab, pair_files, analogy_file, no_analogies, quiet, as_json):
    """Score word models on word similarity and analogy benchmarks.

    With several --model options each is scored on the same files and a
    comparison table follows. --json prints one object per model.
    """
    from pathlib import Path

    from .search.workbench.model_eval import evaluate_model

    if models and collection is not None:
        raise click.UsageError("give --model or --collection, not both")
    results = []
    for model in (models or [None]):
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if quiet or not sys.stderr.isatty():
                return
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, desc="analogies", unit=" questions", file=sys.stderr, dynamic_ncols=True)
            bar.update(done - bar.n)

        space = _word_space(ctx, model, collection)
        try:
            result = evaluate_model(
                space, pair_files=[(Path(p).stem, p) for p in pair_files] or None, analogy_file=analogy_file,
                analogies=not no_analogies, restrict_vocab=restrict_vocab, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        results.append(result)
        if as_json:
            click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            if len(results) > 1:
                click.echo()
            _print_evaluation(result, restrict_vocab)
    if len(results) > 1 and not as_json:
        _print_comparison(results)


def _print_evaluation(result, restrict_vocab: int) -> None:
    known = min(restrict_vocab, result.vocabulary)
    click.echo(f"model {result.model}: {result.vocabulary:,} words, {result.dimension}d "
               f"(the {known:,} most frequent count as known)")
    click.echo(f"{'word similarity':<20}{'Spearman':>9}{'Pearson':>9}  pairs used")
    for p in result.word_pairs:
        click.echo(f"  {p.dataset:<18}{p.spearman:>9.3f}{p.pearson:>9.3f}  {p.used}/{p.pairs}")
    a = result.analogies
    if a is not None:
        click.echo(f"analogies ({a.dataset}): {a.accuracy:.1%} correct ({a.correct:,}/{a.used:,}; "
                   f"{a.oov:,} questions with unknown words skipped)")
        parts = [f"{name} {value:.1%}" for name, value in (("semantic", a.semantic_accuracy),
                                                           ("syntactic", a.syntactic_accuracy)) if value is not None]
        if parts:
            click.echo("  " + ", ".join(parts))
        for s in a.sections:
            shown = f"{s.accuracy:>7.1%}" if s.total else f"{'-':>7}"
            click.echo(f"  {s.section:<28}{shown}  ({s.correct}/{s.total})")


def _print_comparison(results) -> None:
    """One row per model: Spearman per pair set and analogy accuracy, with coverage."""
    names = [_short_model_name(r.model) for r in results]
    width = max(12, *(len(n) for n in names))
    header = f"{'model':<{width}}" + "".join(f"{p.dataset:>20}" for p in results[0].word_pairs)
    if results[0].analogies is not None:
        header += f"{'analogies':>22}"
    click.echo()
    click.echo(header)
    for name, r in zip(names, results):
        row = f"{name:<{width}}" + "".join(f"{p.spearman:>8.3f} ({p.used:>4}/{p.pairs:<4})" for p in r.word_pairs)
        if r.analogies is not None:
            a = r.analogies
            row += f"{a.accuracy:>8.1%} ({a.used:>5}/{a.questions:<5})"
        click.echo(row)
    click.echo("(Spearman and accuracy over the pairs/questions whose words the model knows: used/total)")


def _short_model_name(name: str) -> str:
    from pathlib import Path

    return name if "/" not in name else Path(name).name


# -- serve / token (their own module: vecdex.search.server.commands) ------------------------

from .search.server.commands import serve, token  # noqa: E402  (click only: --help stays instant)

main.add_command(serve)
main.add_command(token)


if __name__ == "__main__":
    main()
