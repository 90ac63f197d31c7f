// vecdex search page: plain DOM, no build step. Talks to the JSON API of the
// server that served it (same origin); a token, if given, stays in localStorage.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

async function api(method, path, body) {
  const response = await fetch(path, { method, headers: headers(), body: body ? JSON.stringify(body) : undefined });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || response.status + " " + response.statusText);
  return data;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// The query's words, for highlighting (letters and digits, as the search tokenises).
function queryWords(query) {
  return Array.from(new Set((query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter((w) => w.length > 1)));
}

// Snippet text with the query's words wrapped in <mark> (built as DOM nodes: no HTML injection).
function highlighted(snippet, words) {
  const out = document.createElement("p");
  out.className = "hit-snippet";
  if (!words.length) { out.textContent = snippet; return out; }
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp("(?<![\\p{L}\\p{N}])(" + escaped.join("|") + ")(?![\\p{L}\\p{N}])", "giu");
  let last = 0;
  for (const match of snippet.matchAll(pattern)) {
    out.append(snippet.slice(last, match.index));
    const mark = document.createElement("mark");
    mark.textContent = match[0];
    out.append(mark);
    last = match.index + match[0].length;
  }
  out.append(snippet.slice(last));
  return out;
}

function showHits(hits, query) {
  const list = $("hits");
  list.replaceChildren();
  const words = queryWords(query);
  for (const hit of hits) {
    const item = document.createElement("li");
    item.className = "hit";
    item.dataset.id = hit.id;
    const title = document.createElement("span");
    title.className = "hit-id";
    title.textContent = hit.id;
    const score = document.createElement("span");
    score.className = "hit-score";
    score.textContent = "score " + hit.score.toFixed(3);
    item.append(title, score, highlighted(hit.snippet, words));
    if (hit.metadata && Object.keys(hit.metadata).length) {
      const meta = document.createElement("div");
      meta.className = "hit-meta";
      meta.textContent = JSON.stringify(hit.metadata);
      item.append(meta);
    }
    list.append(item);
  }
}

async function loadCollections() {
  try {
    const data = await api("GET", "/v1/collections");
    const picker = $("collection");
    const previous = picker.value || localStorage.getItem("vecdex.collection");
    picker.replaceChildren();
    for (const c of data.collections) {
      const option = document.createElement("option");
      option.value = c.name;
      option.textContent = c.name + " (" + c.documents + ")";
      picker.append(option);
    }
    if (previous && data.collections.some((c) => c.name === previous)) picker.value = previous;
    status(data.collections.length ? "" : "No collections yet: index something first.");
  } catch (error) {
    status("Could not list collections: " + error.message, true);
  }
}

async function search(event) {
  event.preventDefault();
  const query = $("query").value.trim();
  const collection = $("collection").value;
  if (!query || !collection) return;
  localStorage.setItem("vecdex.collection", collection);
  status("Searching…");
  const started = performance.now();
  try {
    const data = await api("POST", "/v1/collections/" + encodeURIComponent(collection) + "/search",
                           { query, k: Number($("k").value) || 10, mode: $("mode").value });
    showHits(data.hits, query);
    status(data.hits.length + " hits in " + Math.round(performance.now() - started) + " ms");
  } catch (error) {
    $("hits").replaceChildren();
    status(error.message, true);
  }
}

$("token").value = localStorage.getItem("vecdex.token") || "";
$("token").addEventListener("change", () => { localStorage.setItem("vecdex.token", $("token").value.trim()); loadCollections(); });
$("search-form").addEventListener("submit", search);
loadCollections();
