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

EXAMPLES = """
\b
Examples:
  vecdex index notes/                        # every .txt/.md file, id = relative path
  vecdex index articles.jsonl --id-field url --text-field body
  vecdex index corpus.txt --format lines     # one document per line, id = line number
  vecdex query "flooding after heavy rain" -k 5
  vecdex query "election results" --where year>=2020 --where lang=en --json
  vecdex similar notes/today.md
  vecdex info
"""


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the user asked for something we can't do" (imported lazily)."""
    from indexer.embedders.base import EmbedderError
    from indexer.pipeline import StrictModeError
    from indexer.readers import InputError
    from search.engine import ModelMismatchError, QueryError
    from search.filters import FilterError
    from storage.ann.factory import IndexSpecError
    from storage.store import StoreError

    return (EmbedderError, StrictModeError, InputError, ModelMismatchError, QueryError, FilterError,
            IndexSpecError, StoreError)


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
            if isinstance(exc, _user_error_types()):
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
    from search import Vecdex

    return Vecdex(ctx.obj["db"], create=create)


def collection_option(fn: Callable) -> Callable:
    return click.option("--collection", "-c", default="default", show_default=True, help="Collection name.")(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON lines for machines.")(fn)


def k_option(fn: Callable) -> Callable:
    return click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
                        help="How many documents to return.")(fn)


def where_option(fn: Callable) -> Callable:
    return click.option("--where", "where", multiple=True, metavar="EXPR",
                        help="Metadata filter FIELD=VALUE, or != < > <= >= on numbers; repeatable (ANDed).")(fn)


@click.group(cls=VecdexGroup, epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="VECDEX_DB", default="vecdex.db", show_default=True, metavar="PATH",
              help="The store (SQLite file); also $VECDEX_DB.")
@click.version_option(package_name="vecdex", message="vecdex %(version)s")
@click.pass_context
def main(ctx: click.Context, db: str) -> None:
    """vecdex: index your documents and search them by meaning.

    Documents are split into sentence chunks, embedded with word vectors
    (GloVe 6B 50d built in, or your word2vec/GloVe/fastText/gensim model) and
    stored in one SQLite file; FAISS index files beside it make queries fast.
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
""")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@collection_option
@click.option("--model", default=None, metavar="SPEC",
              help="Word-vector model: 'glove-6b-50d' (default, built in) or a path, optionally prefixed "
                   "word2vec: / word2vec-text: / glove: / fasttext: / kv:.")
@click.option("--embedder", type=click.Choice(["static", "elmo"]), default="static", show_default=True,
              help="static = pooled word vectors; elmo = contextual (needs vecdex[elmo]).")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "lines", "text"]), default="auto",
              show_default=True, help="Input format; auto decides by file extension.")
@click.option("--id-field", default="id", show_default=True, help="JSONL/CSV field holding the document id.")
@click.option("--text-field", default="text", show_default=True, help="JSONL/CSV field holding the text.")
@click.option("--encoding", default=None, help="Input encoding (default: UTF-8, falling back to cp1252 with a warning).")
@click.option("--chunk-tokens", type=click.IntRange(min=8), default=None,
              help="Token budget per chunk for a new collection [default: 128].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--strict", is_flag=True, help="Stop at the first bad record (exit 1); its batch is not written.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@json_option
@click.pass_context
def index(ctx, paths, collection, model, embedder, fmt, id_field, text_field, encoding, chunk_tokens, workers,
          strict, quiet, as_json):
    """Add or update documents from files, folders, JSONL, CSV, lines or stdin (-).

    Documents are upserted by id: changed ones are re-embedded, unchanged ones
    skipped. Bad records are reported and skipped (or, with --strict, stop the run).
    """
    from indexer.chunking import ChunkingSpec
    from indexer.readers import ReadOptions, read_inputs

    options = ReadOptions(format=fmt, id_field=id_field, text_field=text_field, encoding=encoding, strict=strict)
    items = read_inputs(paths, options)  # checks every path before anything is opened
    first = next(items, None)
    vx = _open(ctx, create=True)
    with vx:
        chunking = ChunkingSpec(max_tokens=chunk_tokens) if chunk_tokens else None
        coll = vx.collection(collection, create=True, embedder=embedder, model=model, chunking=chunking)
        progress = _progress_bar(quiet)
        try:
            report = coll.add(_chain(first, items), strict=strict, workers=workers,
                              progress=progress.update if progress else None)
        finally:
            if progress:
                progress.close()
        for ext, count in sorted(options.skipped_extensions.items()):
            report.notes[f"files with extension {ext} not indexed (use --format text to index them)"] = count
        _print_index_report(report, coll.name, quiet, as_json)


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
        click.echo(f"vecdex: note: {count} {'documents' if 'decoded' in note else ''} {note}".replace("  ", " "), err=True)
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
""")
@click.argument("text", required=False)
@click.option("--queries", type=click.File("r", encoding="utf-8"), default=None, metavar="FILE",
              help="Run one query per line of FILE (- for stdin).")
@k_option
@collection_option
@where_option
@json_option
@click.pass_context
def query(ctx, text, queries, k, collection, where, as_json):
    """Find the documents closest in meaning to TEXT."""
    from search import QueryError

    if (text is None) == (queries is None):
        raise click.UsageError("give a query TEXT or --queries FILE (not both)")
    with _open(ctx) as vx:
        coll = vx.collection(collection)
        if text is not None:
            _print_hits(coll.search(text, k, where), text, as_json)
            return
        failed = 0
        for line in queries:
            line = line.strip()
            if not line:
                continue
            if not as_json:
                click.echo(f"== {line}")
            try:
                hits = coll.search(line, k, where)
            except QueryError as exc:
                failed += 1
                click.echo(f"vecdex: error: {exc}", err=True)
                continue
            _print_hits(hits, line, as_json)
        if failed:
            sys.exit(1)


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
@json_option
@click.pass_context
def similar(ctx, doc_id, k, collection, where, as_json):
    """Documents most like the stored document DOC_ID (itself excluded)."""
    with _open(ctx) as vx:
        _print_hits(vx.collection(collection).similar(doc_id, k, where), None, as_json)


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
        ("pooling", f"{spec.get('pooling', '-')}; chunks of ≤{stats['chunking'].get('max_tokens')} tokens "
                    f"({stats['chunking'].get('unit')})"),
        ("index", f"{_spec_text(stats['index'])}; "
                  + (f"{index_file.rsplit('/', 1)[-1]} ({_size(stats['index_file_bytes'])}"
                     f"{', up to date' if stats['index_up_to_date'] else ', will catch up on next query'})"
                     if index_file else "no file yet (built on first query)")),
        ("database", f"{stats['db_path']} ({_size(stats['db_bytes'])})"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")


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


if __name__ == "__main__":
    main()
