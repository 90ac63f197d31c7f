"""A 2-D map of a collection's documents (or of words) for looking at an embedding space.

Points are projected with t-SNE or PCA (scikit-learn), coloured by a metadata
field, and drawn as a PNG/SVG/PDF (matplotlib) for reports or a self-contained
HTML page (inline SVG, hover text, search box, no external files) for exploring.
A document's point is the normalised mean of its chunk vectors, the same
centroid ``similar`` searches with. Large collections are sampled (seeded, so a
map can be redrawn identically).

scikit-learn and matplotlib are optional (``pip install 'vecdex[map]'``) and
imported only when a map is made.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import VecdexError
from ...indexer.cache import atomic_write_bytes

METHODS = ("tsne", "pca")
OUTPUT_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".html": "html", ".htm": "html"}
DEFAULT_SAMPLE = 2000
MAX_CATEGORIES = 10  # colours in the legend; rarer values are drawn as "other"
NONE_GROUP = "(none)"
OTHER_GROUP = "(other)"
HOVER_CHARS = 300
INSTALL_HINT = "pip install 'vecdex[map]'  (or: pip install scikit-learn matplotlib)"


class MapError(VecdexError):
    """A map that cannot be made as asked (too few points, unknown field, missing extra)."""


@dataclass
class MapData:
    """What to draw: vectors plus, per point, a label, hover text and colour value."""

    vectors: np.ndarray
    labels: list[str]
    hovers: list[str]
    values: list[Any]  # colour-by values (None = missing)
    kind: str  # "documents" | "words"
    source: str  # collection or model name
    total: int  # points available before sampling
    color_by: str | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sampled(self) -> bool:
        return len(self) < self.total


@dataclass
class Colouring:
    """How values became colours: categorical groups or a numeric scale."""

    mode: str  # "single" | "category" | "numeric"
    groups: list[str]  # per point, the legend entry (category mode)
    order: list[str]  # legend order
    numbers: np.ndarray | None = None  # per point (numeric mode; NaN = missing)


@dataclass
class MapResult:
    out: str
    format: str
    method: str
    points: int
    total: int
    kind: str
    source: str
    color_by: str | None
    groups: dict[str, int]
    notes: list[str]

    @property
    def sampled(self) -> bool:
        return self.points < self.total

    def as_dict(self) -> dict[str, Any]:
        return {"out": self.out, "format": self.format, "method": self.method, "points": self.points,
                "total": self.total, "sampled": self.sampled, "kind": self.kind, "source": self.source,
                "color_by": self.color_by, "groups": self.groups, "notes": self.notes}


def require_extras() -> None:
    """Fail with the install command when the map libraries are missing."""
    missing = []
    for module, package in (("sklearn", "scikit-learn"), ("matplotlib", "matplotlib")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise MapError(f"maps need {' and '.join(missing)}: {INSTALL_HINT}")


def output_format(out: str | Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise MapError(f"cannot tell the map format from {Path(out).name!r}: end --out with "
                       f"{', '.join(OUTPUT_FORMATS)}")
    return OUTPUT_FORMATS[suffix]


# -- points from a collection or a word model ---------------------------------------------------


def collection_points(collection, *, sample: int = DEFAULT_SAMPLE, color_by: str | None = None,
                      seed: int = 0) -> MapData:
    """Document centroids of a collection, a seeded random sample if there are more than ``sample``."""
    if sample < 2:
        raise MapError("--sample must be at least 2")
    info = collection._refresh()
    dim = int(info.embedder["dimension"])

    def pick(ids: np.ndarray) -> np.ndarray:
        if len(ids) <= sample:
            return ids
        return np.sort(np.random.default_rng(seed).choice(ids, size=sample, replace=False))

    # Only documents with at least one vector can be placed.
    total, documents, sums = collection._vx.store.document_centroids(info.id, dim, pick, HOVER_CHARS + 1)
    if total < 2:
        raise MapError(f"collection {info.name!r} has {total} document(s) with vectors; a map needs at least 2")
    vectors = sums.astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels, hovers, values = [], [], []
    missing_field = 0
    for ext_id, snippet, metadata in documents:
        labels.append(ext_id)
        hovers.append(_short(snippet))
        value = metadata.get(color_by) if color_by else None
        if color_by and color_by not in metadata:
            missing_field += 1
        values.append(value)
    notes = []
    if color_by and missing_field == len(documents):
        known = sorted({k for _, _, m in documents for k in m})
        which = "no document" if total == len(documents) else f"none of the {len(documents):,} sampled documents"
        raise MapError(f"{which} has a metadata field {color_by!r}"
                       + (f" (fields: {', '.join(known[:20])})" if known else " (documents have no metadata)"))
    if color_by and missing_field:
        notes.append(f"{missing_field} of {len(documents)} documents have no field {color_by!r}")
    if total > len(documents):
        notes.insert(0, f"sampled {len(documents):,} of {total:,} documents (seed {seed}; --sample to change)")
    return MapData(vectors, labels, hovers, values, "documents", info.name, total, color_by, notes)


def word_points(space, words: Sequence[str], *, neighbours: int = 0) -> MapData:
    """Words of a model, each optionally with its nearest neighbours (coloured by the word)."""
    words = [w.strip() for w in words if w.strip()]
    seen: dict[str, int] = {}
    vectors, labels, hovers, values = [], [], [], []

    def add(word: str, vector: np.ndarray, group: str, hover: str) -> None:
        key = word.lower()
        if key in seen:
            return
        seen[key] = len(labels)
        vectors.append(vector)
        labels.append(word)
        hovers.append(hover)
        values.append(group)

    for word in words:  # the asked-for words first, so a neighbour never takes their colour
        add(word, space.vector(word), word, word if space.knows(word) else f"{word} (from subwords)")
    for word in words:
        if neighbours > 0:
            for n in space.nearest(word, neighbours):
                add(n.word, space.vector(n.word), word, f"{n.word}: neighbour of {word} (cosine {n.score:.3f})")
    if len(labels) < 2:
        raise MapError("a word map needs at least 2 distinct words (give more with --words, or --neighbours N)")
    return MapData(np.stack(vectors).astype(np.float32), labels, hovers, values, "words", space.name, len(labels),
                   "word" if neighbours > 0 else None)


def _short(textual: str, limit: int = HOVER_CHARS) -> str:
    flat = " ".join(textual.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# -- projection and colours --------------------------------------------------------------------


def project(vectors: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """(n, 2) coordinates. t-SNE runs on at most 50 PCA components (standard practice, and fast)."""
    if method not in METHODS:
        raise MapError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    require_extras()
    from sklearn.decomposition import PCA

    n = len(vectors)
    if n < 2:
        raise MapError("a map needs at least 2 points")
    x = np.asarray(vectors, dtype=np.float32)
    if method == "pca" or n < 4:  # t-SNE's perplexity needs a few neighbours
        components = min(2, n, x.shape[1])
        out = PCA(n_components=components, random_state=seed).fit_transform(x)
    else:
        from sklearn.manifold import TSNE

        if x.shape[1] > 50 and n > 50:
            x = PCA(n_components=50, random_state=seed).fit_transform(x)
        from threadpoolctl import threadpool_limits

        perplexity = float(max(1.0, min(30.0, (n - 1) / 3.0)))  # must stay below n
        # OpenMP threads that spin-wait make t-SNE several times slower on a busy or
        # small machine (measured: 200 points 6.4 s with all threads, 1.3 s with one).
        with threadpool_limits(limits=max(1, (os.cpu_count() or 2) // 2)):
            out = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                       random_state=seed).fit_transform(x)
    out = np.asarray(out, dtype=np.float64)
    if out.shape[1] < 2:
        out = np.hstack([out, np.zeros((n, 2 - out.shape[1]))])
    return out


def colouring(values: Sequence[Any], color_by: str | None) -> Colouring:
    """Numbers with many distinct values get a colour scale; anything else, categories."""
    if not color_by:
        return Colouring("single", ["all"] * len(values), ["all"])
    present = [v for v in values if v is not None]
    numeric = present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if numeric and len(set(present)) > MAX_CATEGORIES:
        numbers = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        return Colouring("numeric", [NONE_GROUP if v is None else "" for v in values], [], numbers)
    names = [NONE_GROUP if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
             for v in values]
    counts = Counter(n for n in names if n != NONE_GROUP)
    # The most frequent values get colours, assigned in sorted order so a value keeps
    # its colour from one sample (or map) to the next.
    kept = sorted(name for name, _ in counts.most_common(MAX_CATEGORIES))
    kept_set = set(kept)
    groups = [n if n in kept_set or n == NONE_GROUP else OTHER_GROUP for n in names]
    order = kept + [g for g in (OTHER_GROUP, NONE_GROUP) if g in groups]
    return Colouring("category", groups, order)


def _palette(n: int) -> list[str]:
    base = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            "#bcbd22", "#7f7f7f"]
    return [base[i % len(base)] for i in range(n)]


def _group_colours(colours: Colouring) -> dict[str, str]:
    named = [g for g in colours.order if g not in (OTHER_GROUP, NONE_GROUP)]
    out = dict(zip(named, _palette(len(named))))
    out[OTHER_GROUP] = "#b0b0b0"
    out[NONE_GROUP] = "#d9d9d9"
    out["all"] = "#1f77b4"
    return out


def _numeric_colours(numbers: np.ndarray) -> list[str]:
    """Viridis hex colours for numbers (missing values grey)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    finite = numbers[np.isfinite(numbers)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    span = (high - low) or 1.0
    cmap = colormaps["viridis"]
    return [to_hex(cmap((v - low) / span)) if math.isfinite(v) else "#d9d9d9" for v in numbers.tolist()]


# -- rendering -----------------------------------------------------------------------------------


def _title(data: MapData, method: str) -> str:
    what = f"{len(data):,} {data.kind}" + (f" (sampled from {data.total:,})" if data.sampled else "")
    colour = f", coloured by {data.color_by}" if data.color_by else ""
    return f"{data.source}: {'t-SNE' if method == 'tsne' else 'PCA'} map of {what}{colour}"


def _label_rows(data: MapData, labels: int, seed: int) -> list[int]:
    """Which points get a text label: all words; a seeded sample of documents."""
    n = len(data)
    if data.kind == "words" and n <= 400:
        return list(range(n))
    if labels <= 0:
        return []
    if labels >= n:
        return list(range(n))
    return sorted(np.random.default_rng(seed + 1).choice(n, size=labels, replace=False).tolist())


def render_image(data: MapData, xy: np.ndarray, colours: Colouring, fmt: str, *, method: str,
                 labels: int = 30, seed: int = 0, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A PNG/SVG/PDF of the map (matplotlib's object API: no pyplot, no global state)."""
    require_extras()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    point_size = 28 if len(data) <= 200 else 14 if len(data) <= 2000 else 6
    if colours.mode == "numeric":
        numbers = colours.numbers
        known = np.isfinite(numbers)
        if (~known).any():
            axes.scatter(xy[~known, 0], xy[~known, 1], s=point_size, c="#d9d9d9", label=NONE_GROUP, linewidths=0)
        scatter = axes.scatter(xy[known, 0], xy[known, 1], s=point_size, c=numbers[known], cmap="viridis",
                               linewidths=0, alpha=0.85)
        figure.colorbar(scatter, ax=axes, label=data.color_by, shrink=0.8)
    else:
        palette = _group_colours(colours)
        groups = np.asarray(colours.groups, dtype=object)
        for group in colours.order:
            mask = groups == group
            axes.scatter(xy[mask, 0], xy[mask, 1], s=point_size, c=palette[group], linewidths=0, alpha=0.85,
                         label=f"{_short(group, 40)} ({int(mask.sum())})")
        if colours.mode == "category":
            axes.legend(title=data.color_by, fontsize=8, title_fontsize=9, loc="best", markerscale=1.5,
                        framealpha=0.85)
    for row in _label_rows(data, labels, seed):
        axes.annotate(_short(data.labels[row], 28), xy[row], xytext=(3, 3), textcoords="offset points",
                      fontsize=7 if data.kind == "documents" else 8, alpha=0.85)
    axes.set_title(_title(data, method), fontsize=11)
    axes.set_xticks([])
    axes.set_yticks([])
    for note in data.notes[:2]:
        figure.text(0.01, 0.005, note, fontsize=7, color="#555555", ha="left", va="bottom")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi)
    return buffer.getvalue()


def render_html(data: MapData, xy: np.ndarray, colours: Colouring, *, method: str, labels: int = 30,
                seed: int = 0) -> str:
    """A self-contained page: inline SVG points with hover text, a legend and a search box."""
    width, height, margin = 1000, 720, 24
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    scaled = margin + (xy - low) / span * np.array([width - 2 * margin, height - 2 * margin])
    scaled[:, 1] = height - scaled[:, 1]  # SVG y grows downwards
    if colours.mode == "numeric":
        fills = _numeric_colours(colours.numbers)
        legend_items = []
        finite = colours.numbers[np.isfinite(colours.numbers)]
        scale_note = (f"{data.color_by}: {finite.min():g} (dark) to {finite.max():g} (yellow)" if len(finite) else "")
    else:
        palette = _group_colours(colours)
        fills = [palette[g] for g in colours.groups]
        counts = Counter(colours.groups)
        legend_items = [(g, palette[g], counts[g]) for g in colours.order] if colours.mode == "category" else []
        scale_note = ""
    labelled = set(_label_rows(data, labels, seed))
    radius = 5 if len(data) <= 200 else 3.5 if len(data) <= 2000 else 2.5

    circles, texts, records = [], [], []
    for i in range(len(data)):
        x, y = float(scaled[i, 0]), float(scaled[i, 1])
        group = colours.groups[i] if colours.mode == "category" else (
            "" if colours.mode == "single" else _value_text(data.values[i]))
        title = data.labels[i] + (f"\n{data.color_by}: {group}" if data.color_by else "") + (
            f"\n{data.hovers[i]}" if data.hovers[i] and data.hovers[i] != data.labels[i] else "")
        circles.append(
            f'<circle class="pt" data-i="{i}" data-group="{html.escape(group, quote=True)}" cx="{x:.1f}" '
            f'cy="{y:.1f}" r="{radius}" fill="{fills[i]}"><title>{html.escape(title)}</title></circle>'
        )
        if i in labelled:
            texts.append(f'<text class="lb" x="{x + 4:.1f}" y="{y - 4:.1f}">{html.escape(_short(data.labels[i], 28))}</text>')
        records.append({"label": data.labels[i], "text": data.hovers[i], "group": group,
                        "x": round(float(xy[i, 0]), 4), "y": round(float(xy[i, 1]), 4)})
    legend = "".join(
        f'<li data-group="{html.escape(g, quote=True)}"><span class="sw" style="background:{c}"></span>'
        f"{html.escape(_short(g, 48))} <small>({n})</small></li>"
        for g, c, n in legend_items
    )
    payload = json.dumps({"title": _title(data, method), "method": method, "kind": data.kind,
                          "total": data.total, "color_by": data.color_by, "notes": data.notes,
                          "points": records}, ensure_ascii=False).replace("</", "<\\/")
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in data.notes)
    if scale_note:
        notes += f"<p class='note'>{html.escape(scale_note)}</p>"
    return _HTML_TEMPLATE.format(
        title=html.escape(_title(data, method)), width=width, height=height,
        circles="\n".join(circles), texts="\n".join(texts), legend=legend, notes=notes, payload=payload,
        legend_title=html.escape(data.color_by or ""),
    )


def _value_text(value: Any) -> str:
    if value is None:
        return NONE_GROUP
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}}
h1{{font-size:16px;margin:0 0 6px}}
.wrap{{display:flex;gap:16px;align-items:flex-start}}
svg{{border:1px solid #ddd;background:#fff;max-width:100%;height:auto;flex:1 1 auto}}
.pt{{stroke:#fff;stroke-width:.5;cursor:pointer}}
.pt.dim{{opacity:.08}} .pt.hit{{stroke:#000;stroke-width:1.5}}
.lb{{font-size:10px;fill:#333;pointer-events:none}}
aside{{min-width:220px;max-width:300px}}
ul{{list-style:none;padding:0;margin:4px 0}} li{{cursor:pointer;margin:2px 0}} li.off{{opacity:.35}}
.sw{{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px;vertical-align:middle}}
#tip{{position:fixed;pointer-events:none;background:#fffff4;border:1px solid #aaa;padding:6px 8px;max-width:420px;
font-size:12px;display:none;box-shadow:0 2px 6px rgba(0,0,0,.15)}}
.note{{color:#666;font-size:12px;margin:2px 0}} input{{width:100%;box-sizing:border-box;padding:4px}}
</style></head><body>
<h1>{title}</h1>{notes}
<div class="wrap">
<svg id="map" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{title}">
{circles}
{texts}
</svg>
<aside><input id="find" type="search" placeholder="highlight points containing…" aria-label="search">
<p><b>{legend_title}</b></p><ul id="legend">{legend}</ul>
<p class="note">Hover a point for its text; click a legend entry to hide or show that group.</p></aside>
</div>
<div id="tip"></div>
<script type="application/json" id="vecdex-map-data">{payload}</script>
<script>
(function(){{
  var data = JSON.parse(document.getElementById("vecdex-map-data").textContent);
  var tip = document.getElementById("tip"), pts = document.querySelectorAll(".pt");
  function esc(s){{return String(s).replace(/[&<>]/g,function(c){{return {{"&":"&amp;","<":"&lt;",">":"&gt;"}}[c];}});}}
  pts.forEach(function(el){{
    var p = data.points[+el.getAttribute("data-i")];
    el.addEventListener("mousemove", function(ev){{
      tip.innerHTML = "<b>"+esc(p.label)+"</b>"+(p.group?"<br><i>"+esc(p.group)+"</i>":"")+
        (p.text && p.text!==p.label?"<br>"+esc(p.text):"");
      tip.style.display="block"; tip.style.left=(ev.clientX+14)+"px"; tip.style.top=(ev.clientY+10)+"px";
    }});
    el.addEventListener("mouseleave", function(){{tip.style.display="none";}});
  }});
  var hidden = {{}};
  function refresh(){{
    var q = document.getElementById("find").value.toLowerCase();
    pts.forEach(function(el){{
      var p = data.points[+el.getAttribute("data-i")];
      var match = q && (p.label+" "+p.text).toLowerCase().indexOf(q) >= 0;
      el.classList.toggle("dim", !!hidden[p.group] || (q && !match));
      el.classList.toggle("hit", !!match && !hidden[p.group]);
    }});
  }}
  document.getElementById("find").addEventListener("input", refresh);
  document.querySelectorAll("#legend li").forEach(function(li){{
    li.addEventListener("click", function(){{
      var g = li.getAttribute("data-group"); hidden[g] = !hidden[g]; li.classList.toggle("off", hidden[g]); refresh();
    }});
  }});
}})();
</script>
</body></html>
"""


def make_map(data: MapData, out: str | Path, *, method: str = "tsne", labels: int = 30, seed: int = 0) -> MapResult:
    """Project, colour and write the map; the format follows ``out``'s extension."""
    fmt = output_format(out)
    out_path = Path(out)
    if not out_path.parent.exists():
        raise MapError(f"folder {out_path.parent} does not exist (for --out {out})")
    if method == "tsne" and len(data) < 4:
        method = "pca"  # t-SNE needs a neighbourhood to preserve
        data.notes.append("fewer than 4 points: drawn with PCA instead of t-SNE")
    xy = project(data.vectors, method, seed)
    colours = colouring(data.values, data.color_by)
    if fmt == "html":
        payload = render_html(data, xy, colours, method=method, labels=labels, seed=seed).encode("utf-8")
    else:
        payload = render_image(data, xy, colours, fmt, method=method, labels=labels, seed=seed)
    atomic_write_bytes(out_path, payload)
    groups = dict(Counter(colours.groups)) if colours.mode == "category" else {}
    return MapResult(str(out_path), fmt, method, len(data), data.total, data.kind, data.source, data.color_by,
                     groups, list(data.notes))


__all__ = [
    "DEFAULT_SAMPLE", "METHODS", "MapData", "MapError", "MapResult", "collection_points", "colouring",
    "make_map", "output_format", "project", "require_extras", "word_points",
]
