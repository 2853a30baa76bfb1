// dgeflow report: the interactive part. Unpacks the embedded libraries (plotly.js, DataTables)
// and the run's data, all gzip + base64 inside this file, so nothing is fetched from anywhere.
// Every user-supplied name is inserted as text (textContent, DataTables' text renderer,
// plotly's hover text), never as HTML.
"use strict";

const dg = { data: null, plotly: null, table: null, result: null, gene: null };

async function gunzipText(id) {
  const b64 = document.getElementById(id).textContent.trim();
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

async function loadClassicScript(id) {
  const script = document.createElement("script");
  script.textContent = await gunzipText(id);
  document.head.appendChild(script);
}

async function loadModule(id) {
  const url = URL.createObjectURL(new Blob([await gunzipText(id)], { type: "text/javascript" }));
  try {
    return await import(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function loadStyle(id) {
  const style = document.createElement("style");
  style.textContent = await gunzipText(id);
  document.head.appendChild(style);
}

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function fmt(v) {
  if (v === null || v === undefined) return "NA";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e9) return v.toExponential(3);
  if (a >= 1e3) return Math.round(v).toLocaleString("en-US");
  return String(Number(v.toPrecision(4)));
}

// plotly reads a few HTML tags in its strings (titles, hover text, tick labels, legend names):
// every user-supplied name goes into them escaped, which plotly shows as the plain text
function esc(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function geneLabel(i) {
  const d = dg.data;
  const sym = d.symbols ? d.symbols[i] : null;
  return sym ? `${d.genes[i]} (${sym})` : d.genes[i];
}

// --- the gene table ---------------------------------------------------------------------------

function tableRows(r) {
  const d = dg.data;
  const rows = [];
  for (let i = 0; i < d.genes.length; i++) {
    if (r.mean[i] === null && r.padj[i] === null && r.lfc[i] === null) continue; // not in table
    rows.push([i, d.genes[i], d.symbols ? d.symbols[i] || "" : "", r.mean[i], r.lfc[i], r.p[i], r.padj[i]]);
  }
  return rows;
}

function numberColumn(title) {
  return {
    title,
    type: "num",
    className: "dt-right",
    render: (v, type) => {
      if (type === "display" || type === "filter") return fmt(v);
      return v === null ? Infinity : v; // NA sorts last in ascending order
    },
  };
}

function buildTable(DataTable) {
  const r = dg.result;
  const host = document.getElementById("gene-table-host");
  host.replaceChildren();
  const table = el("table", { id: "gene-table", class: "display compact" });
  host.appendChild(table);
  const [meanName, lfcName, pName, padjName] = r.columns;
  dg.table = new DataTable(table, {
    data: tableRows(r),
    deferRender: true,
    pageLength: 10,
    order: [[6, "asc"]],
    columns: [
      { title: "#", visible: false, searchable: false },
      { title: "gene_id", render: DataTable.render.text() },
      { title: "symbol", render: DataTable.render.text(), visible: !!dg.data.symbols },
      numberColumn(meanName),
      numberColumn(lfcName),
      numberColumn(pName),
      numberColumn(padjName),
    ],
    language: { search: "Search genes:" },
  });
  table.querySelector("tbody").addEventListener("click", (event) => {
    const tr = event.target.closest("tr");
    if (!tr) return;
    const row = dg.table.row(tr).data();
    if (row) showGene(row[0]);
  });
  const link = document.getElementById("table-file");
  link.textContent = r.file;
  link.setAttribute("href", r.file);
}

function downloadTable() {
  const r = dg.result;
  const d = dg.data;
  const lines = [["gene_id", ...(d.symbols ? ["symbol"] : []), ...r.columns].join("\t")];
  for (const row of tableRows(r)) {
    const cells = [row[1], ...(d.symbols ? [row[2]] : []), ...row.slice(3).map((v) => (v === null ? "NA" : String(v)))];
    lines.push(cells.join("\t"));
  }
  const blob = new Blob([lines.join("\n") + "\n"], { type: "text/tab-separated-values" });
  const a = el("a", { href: URL.createObjectURL(blob), download: r.key.replace("/", "_") + ".tsv" });
  document.body.appendChild(a);
  a.click();
  a.remove();
}

// --- MA and volcano -----------------------------------------------------------------------------

function scatterPlot(target, r, layer, xs, ys, xTitle, yTitle, title) {
  const P = dg.plotly;
  const d = dg.data;
  const sigX = [], sigY = [], sigText = [], sigIdx = [], sigColour = [];
  const restX = [], restY = [], restText = [], restIdx = [];
  for (let i = 0; i < d.genes.length; i++) {
    const x = xs[i], y = ys[i];
    if (x === null || y === null || !isFinite(x) || !isFinite(y)) continue;
    const sig = r.padj[i] !== null && r.padj[i] < r.alpha && Math.abs(r.lfc[i]) > r.lfc_threshold;
    const text = `${esc(geneLabel(i))}<br>log2FC ${fmt(r.lfc[i])}<br>padj ${fmt(r.padj[i])}`;
    if (sig) {
      sigX.push(x); sigY.push(y); sigText.push(text); sigIdx.push(i);
      sigColour.push(r.lfc[i] > 0 ? "#c0392b" : "#2e86c1");
    } else if (!layer.cloud_png) {
      restX.push(x); restY.push(y); restText.push(text); restIdx.push(i);
    }
  }
  const traces = [];
  if (!layer.cloud_png) {
    traces.push({
      x: restX, y: restY, text: restText, customdata: restIdx, type: "scatter", mode: "markers",
      name: "not significant", hoverinfo: "text", marker: { size: 4, color: "#9aa5b1", opacity: 0.5 },
    });
  }
  traces.push({
    x: sigX, y: sigY, text: sigText, customdata: sigIdx, type: "scatter", mode: "markers",
    name: `padj < ${r.alpha} (${sigX.length.toLocaleString("en-US")})`, hoverinfo: "text",
    marker: { size: 5, color: sigColour, opacity: 0.85 },
  });
  traces.push({
    x: [], y: [], type: "scatter", mode: "markers", name: "selected gene", hoverinfo: "skip",
    marker: { size: 12, color: "rgba(0,0,0,0)", line: { color: "#111", width: 2 } },
  });
  const images = [];
  if (layer.cloud_png) {
    images.push({
      source: layer.cloud_png, xref: "x", yref: "y", x: layer.x_range[0], y: layer.y_range[1],
      sizex: layer.x_range[1] - layer.x_range[0], sizey: layer.y_range[1] - layer.y_range[0],
      sizing: "stretch", layer: "below",
    });
  }
  const layout = {
    title: { text: title, font: { size: 14 }, x: 0.01, xanchor: "left" },
    xaxis: { title: { text: xTitle }, range: layer.x_range, zeroline: false },
    yaxis: { title: { text: yTitle }, range: layer.y_range },
    images, height: 420, margin: { l: 60, r: 20, t: 40, b: 50 }, hovermode: "closest",
    legend: { orientation: "h", y: -0.18 },
  };
  P.newPlot(target, traces, layout, { responsive: true, displaylogo: false });
  target.on("plotly_click", (event) => {
    const point = event.points[0];
    if (point && point.customdata !== undefined) showGene(point.customdata);
  });
}

function markGene(target, xs, ys, i) {
  if (!target.data) return;
  const last = target.data.length - 1;
  const ok = xs[i] !== null && ys[i] !== null;
  dg.plotly.restyle(target, { x: [ok ? [xs[i]] : []], y: [ok ? [ys[i]] : []] }, [last]);
}

function maX(r) {
  return r.mean_log ? r.mean.map((v) => (v !== null && v > 0 ? Math.log10(v) : null)) : r.mean;
}

function volcanoY(r) {
  const ys = r.p.map((v) => (v === null ? null : v > 0 ? -Math.log10(v) : Infinity));
  const top = r.volcano.y_range[1];
  return ys.map((v) => (v === Infinity ? top * 0.98 : v));
}

function drawResultPlots() {
  const r = dg.result;
  const ma = document.getElementById("ma-plot");
  const volcano = document.getElementById("volcano-plot");
  const meanTitle = r.mean_log ? `log10 ${r.columns[0]}` : r.columns[0];
  scatterPlot(ma, r, r.ma, maX(r), r.lfc, meanTitle, r.columns[1], "MA plot");
  scatterPlot(volcano, r, r.volcano, r.lfc, volcanoY(r), r.columns[1], `-log10 ${r.columns[2]}`, "Volcano plot");
  const note = document.getElementById("cloud-note");
  const zeros = r.p.filter((v) => v === 0).length;
  note.textContent = (r.ma.cloud_png
    ? `The ${r.ma.cloud_n.toLocaleString("en-US")} non-significant genes are drawn as an image (no hover); search the table to find any of them. `
    : "") + (zeros
    ? `${zeros.toLocaleString("en-US")} p-values are 0 (below double precision) and sit on the volcano's top edge.`
    : "");
  drawPHistogram(r);
  drawFilterCurve(r);
  drawHeatmap(r);
}

function drawPHistogram(r) {
  const h = r.p_histogram;
  const mids = h.counts.map((_, k) => (h.edges[k] + h.edges[k + 1]) / 2);
  dg.plotly.newPlot(document.getElementById("phist-plot"), [{
    x: mids, y: h.counts, type: "bar", marker: { color: "#4a6fa5" }, hovertemplate: "p %{x:.3f}: %{y} genes<extra></extra>",
  }], {
    title: { text: `p-value histogram (${r.columns[2]})`, font: { size: 14 }, x: 0.01, xanchor: "left" }, bargap: 0.02, height: 320,
    xaxis: { title: { text: "p-value" }, range: [0, 1] }, yaxis: { title: { text: "genes" } },
    margin: { l: 60, r: 20, t: 40, b: 50 },
  }, { responsive: true, displaylogo: false });
}

function drawFilterCurve(r) {
  const target = document.getElementById("filter-plot");
  const c = r.filter_curve;
  if (!c) {
    dg.plotly.purge(target);
    target.replaceChildren(el("p", { class: "note" }, "No independent-filtering curve for this result (DESeq2 only, when de.independent_filtering is on)."));
    return;
  }
  target.replaceChildren();
  const traces = [{
    x: c.theta, y: c.rejections, type: "scatter", mode: "lines+markers", name: "rejections",
    text: c.threshold.map((t) => `mean count ≥ ${fmt(t)}`),
    hovertemplate: "quantile %{x:.2f} (%{text}): %{y} genes<extra></extra>",
  }];
  if (c.chosen !== null) {
    traces.push({
      x: [c.theta[c.chosen]], y: [c.rejections[c.chosen]], type: "scatter", mode: "markers",
      name: `chosen: mean count ≥ ${fmt(c.threshold[c.chosen])}`, marker: { size: 12, color: "#c0392b" },
    });
  }
  dg.plotly.newPlot(target, traces, {
    title: { text: "Independent filtering: rejections by mean-count quantile", font: { size: 14 } },
    xaxis: { title: { text: "quantile of the mean count filtered out" } },
    yaxis: { title: { text: `genes with padj < ${r.alpha}` } }, height: 320,
    margin: { l: 60, r: 20, t: 40, b: 50 }, legend: { orientation: "h", y: -0.25 },
  }, { responsive: true, displaylogo: false });
}

// --- one gene's counts --------------------------------------------------------------------------

function showGene(i) {
  dg.gene = i;
  const d = dg.data;
  const r = dg.result;
  const c = d.counts;
  const target = document.getElementById("count-plot");
  const title = document.getElementById("count-title");
  title.textContent = `${geneLabel(i)}: log2FC ${fmt(r.lfc[i])}, padj ${fmt(r.padj[i])} (${r.label})`;
  markGene(document.getElementById("ma-plot"), maX(r), r.lfc, i);
  markGene(document.getElementById("volcano-plot"), r.lfc, volcanoY(r), i);
  if (!c) {
    target.replaceChildren(el("p", { class: "note" }, "No counts available."));
    return;
  }
  const factor = r.factor;
  const levelOf = {};
  d.samples.forEach((s, k) => (levelOf[s] = d.sheet[factor] ? d.sheet[factor][k] : "all"));
  const row = c.per_sample_genes.indexOf(i);
  const traces = [];
  const note = document.getElementById("count-note");
  if (row >= 0) {
    const groups = {};
    c.samples.forEach((s, k) => {
      const level = levelOf[s] ?? "NA";
      (groups[level] ||= { y: [], text: [] });
      groups[level].y.push(Math.pow(2, c.per_sample[row][k] / c.scale));
      groups[level].text.push(esc(s));
    });
    for (const level of levelOrder(Object.keys(groups), r)) {
      traces.push({
        y: groups[level].y, text: groups[level].text, name: esc(level), type: "box", boxpoints: "all",
        jitter: 0.4, pointpos: 0, hovertemplate: "%{text}: %{y:.1f}<extra></extra>",
      });
    }
    note.textContent = `Each point a sample; ${c.how}, + 0.5 (DESeq2's plotCounts).`;
  } else {
    const s = c.summaries[factor];
    const q = s.q[i];
    levelOrder(s.levels, r).forEach((level) => {
      const k = s.levels.indexOf(level);
      const v = q.slice(5 * k, 5 * k + 5).map((x) => Math.pow(2, x / c.scale));
      traces.push({
        type: "box", name: esc(`${level} (n=${s.n[k]})`), x: [esc(`${level} (n=${s.n[k]})`)],
        lowerfence: [v[0]], q1: [v[1]], median: [v[2]], q3: [v[3]], upperfence: [v[4]],
      });
    });
    note.textContent = `At this study size per-sample values are embedded for the ${c.per_sample_genes.length.toLocaleString("en-US")} genes with the smallest adjusted p-values; this gene is shown as its per-group distribution (min, quartiles, max). ${c.how}.`;
  }
  dg.plotly.newPlot(target, traces, {
    yaxis: { type: "log", title: { text: "normalized count + 0.5" } },
    xaxis: { title: { text: factor } }, showlegend: false, height: 360,
    margin: { l: 60, r: 20, t: 10, b: 50 },
  }, { responsive: true, displaylogo: false });
  target.scrollIntoView({ block: "nearest" });
}

// the contrast's reference first, then its level, then any other levels
function levelOrder(levels, r) {
  const rank = (v) => (v === r.reference ? 0 : v === r.level ? 1 : 2);
  return [...levels].sort((a, b) => rank(a) - rank(b) || String(a).localeCompare(String(b)));
}

function lookUpGene(query) {
  const d = dg.data;
  const q = query.trim().toLowerCase();
  if (!q) return;
  let hit = d.genes.findIndex((g) => g.toLowerCase() === q);
  if (hit < 0 && d.symbols) hit = d.symbols.findIndex((s) => s && s.toLowerCase() === q);
  const status = document.getElementById("lookup-status");
  if (hit < 0) {
    status.textContent = `No gene named “${query}”.`;
    return;
  }
  status.textContent = "";
  dg.table.search(d.genes[hit]).draw();
  showGene(hit);
}

// --- sample-level plots -----------------------------------------------------------------------

function drawHeatmap(r) {
  const target = document.getElementById("heatmap-plot");
  const h = dg.data.heatmap;
  if (!h || !h.top[r.key] || !h.top[r.key].length) {
    target.replaceChildren(el("p", { class: "note" }, "No transformed values to draw."));
    return;
  }
  const d = dg.data;
  const genes = h.top[r.key];
  const factorValues = d.sheet[r.factor] || h.samples.map(() => "all");
  const levelOf = Object.fromEntries(d.samples.map((s, k) => [s, factorValues[k]]));
  const order = h.samples.map((s, k) => k).sort((a, b) => String(levelOf[h.samples[a]]).localeCompare(String(levelOf[h.samples[b]])) || a - b);
  const z = genes.map((g) => {
    const values = h.values[g];
    const finite = values.filter((v) => v !== null);
    const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
    const sd = Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, finite.length - 1)) || 1;
    return order.map((k) => (values[k] === null ? null : (values[k] - mean) / sd));
  });
  const index = Object.fromEntries(d.genes.map((g, k) => [g, k]));
  const labels = genes.map((g) => esc(geneLabel(index[g])));
  const xs = order.map((k) => esc(h.samples[k]));
  const raw = order.map((k) => h.samples[k]);
  const levels = [...new Set(raw.map((s) => levelOf[s]))];
  const bar = [raw.map((s) => levels.indexOf(levelOf[s]))];
  const palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];
  const n = Math.max(1, levels.length - 1);
  const scale = levels.map((_, k) => [k / n, palette[k % palette.length]]);
  if (levels.length === 1) scale.push([1, palette[0]]);
  dg.plotly.newPlot(target, [
    {
      z, x: xs, y: labels, type: "heatmap", colorscale: "RdBu", reversescale: false, zmid: 0,
      colorbar: { title: { text: "z" }, len: 0.8, y: 0.4 }, xaxis: "x", yaxis: "y",
      hovertemplate: "%{y}<br>%{x}: z %{z:.2f}<extra></extra>",
    },
    {
      z: bar, x: xs, y: [esc(r.factor)], type: "heatmap", colorscale: scale, showscale: false,
      xaxis: "x", yaxis: "y2", text: [raw.map((s) => esc(levelOf[s]))],
      hovertemplate: "%{x}: %{text}<extra></extra>",
    },
  ], {
    title: { text: `Top ${genes.length} genes by adjusted p-value, ${h.transform} (z-score per gene); samples grouped by ${esc(r.factor)}: ${esc(levels.join(", "))}`, font: { size: 13 } },
    grid: { rows: 2, columns: 1, roworder: "bottom to top" },
    yaxis: { domain: [0, 0.9], automargin: true, autorange: "reversed", tickfont: { size: 9 } },
    yaxis2: { domain: [0.92, 1], tickfont: { size: 10 } },
    xaxis: { showticklabels: xs.length <= 80, tickfont: { size: 8 } },
    height: 180 + 14 * genes.length, margin: { l: 160, r: 20, t: 50, b: 60 },
  }, { responsive: true, displaylogo: false });
}

function drawCooks() {
  const target = document.getElementById("cooks-plot");
  const c = dg.data.cooks;
  if (!target) return;
  if (!c) {
    target.replaceChildren(el("p", { class: "note" }, "No Cook's distances (DESeq2 only)."));
    return;
  }
  dg.plotly.newPlot(target, [{
    type: "box", x: c.samples.map(esc), lowerfence: c.min, q1: c.q25, median: c.median, q3: c.q75,
    upperfence: c.max, marker: { color: "#4a6fa5" }, name: "log10 Cook's distance",
  }], {
    title: { text: "Cook's distances per sample (log10; whiskers at min and max, the axis cut below the lowest lower quartile): a sample with many large distances stands out", font: { size: 13 }, x: 0.01, xanchor: "left" },
    // the axis starts just below the lowest lower quartile: the large distances are the story
    yaxis: { title: { text: "log10 Cook's distance" }, range: [Math.min(...c.q25.filter((v) => v !== null)) - 1, Math.max(...c.max.filter((v) => v !== null)) + 0.5] },
    xaxis: { showticklabels: c.samples.length <= 80, tickfont: { size: 8 } },
    height: 340, margin: { l: 60, r: 20, t: 40, b: 80 },
  }, { responsive: true, displaylogo: false });
}

function drawPca() {
  const target = document.getElementById("pca-plot");
  const p = dg.data.pca;
  if (!target || !p) return;
  const d = dg.data;
  const colourBy = document.getElementById("pca-colour").value;
  const kept = dg.result ? dg.result.factor : Object.keys(p.corrected)[0];
  const corrected = p.corrected[kept];
  const sheetIndex = Object.fromEntries(d.samples.map((s, k) => [s, k]));
  const colourOf = p.samples.map((s) => (d.sheet[colourBy] ? d.sheet[colourBy][sheetIndex[s]] : "all") ?? "NA");
  const levels = [...new Set(colourOf)].sort();
  const palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];
  const traces = [];
  const panels = [["raw", p.raw, p.raw_variance, "x", "y"]];
  if (corrected) panels.push(["corrected", corrected, corrected.variance, "x2", "y2"]);
  for (const [panel, scores, variance, xa, ya] of panels) {
    levels.forEach((level, k) => {
      const idx = colourOf.map((v, j) => (v === level ? j : -1)).filter((j) => j >= 0);
      traces.push({
        x: idx.map((j) => scores.PC1[j]), y: idx.map((j) => scores.PC2[j]), text: idx.map((j) => esc(p.samples[j])),
        type: "scatter", mode: "markers", name: esc(level), legendgroup: String(level), showlegend: panel === "raw",
        marker: { size: 8, color: palette[k % palette.length] }, xaxis: xa, yaxis: ya,
        hovertemplate: `%{text} (${esc(colourBy)} = ${esc(level)})<extra></extra>`,
      });
    });
  }
  const pct = (v, k) => (v && v[k] !== null && v[k] !== undefined ? ` (${Math.round(100 * v[k])}%)` : "");
  const layout = {
    grid: { rows: 1, columns: panels.length, pattern: "independent" }, height: 420,
    xaxis: { title: { text: "PC1" + pct(p.raw_variance, 0) } }, yaxis: { title: { text: "PC2" + pct(p.raw_variance, 1) } },
    margin: { l: 60, r: 20, t: 50, b: 50 }, legend: { title: { text: esc(colourBy) } },
    annotations: [{ text: "as measured (blind transformation)", xref: "x domain", yref: "y domain", x: 0.5, y: 1.1, showarrow: false }],
  };
  if (corrected) {
    layout.xaxis2 = { title: { text: "PC1" + pct(corrected.variance, 0) } };
    layout.yaxis2 = { title: { text: "PC2" + pct(corrected.variance, 1) } };
    layout.annotations.push({
      text: esc(corrected.removed ? `after removing ${corrected.removed} (kept: ${kept})` : `nothing to remove besides ${kept}`),
      xref: "x2 domain", yref: "y2 domain", x: 0.5, y: 1.1, showarrow: false,
    });
  }
  dg.plotly.newPlot(target, traces, layout, { responsive: true, displaylogo: false });
}

function drawOverlap() {
  const target = document.getElementById("overlap-plot");
  const o = dg.data.overlap;
  if (!target) return;
  if (!o) {
    target.replaceChildren(el("p", { class: "note" }, "One result only: no overlap to show."));
    return;
  }
  // UpSet: bars of the genes significant in exactly each combination, the combination drawn
  // as filled dots under its bar
  const shown = o.intersections.slice(0, 25);
  const xs = shown.map((_, k) => k);
  const sets = o.sets.map((name, k) => `${esc(name)} (${o.sizes[k].toLocaleString("en-US")})`);
  const traces = [{
    x: xs, y: shown.map((s) => s.n), type: "bar", marker: { color: "#334e68" }, xaxis: "x", yaxis: "y",
    text: shown.map((s) => String(s.n)), textposition: "outside", hoverinfo: "skip", showlegend: false,
  }];
  const dotX = [], dotY = [], dotColour = [];
  shown.forEach((s, k) => s.members.forEach((m, j) => {
    dotX.push(k); dotY.push(j); dotColour.push(m ? "#334e68" : "#d9e2ec");
  }));
  traces.push({
    x: dotX, y: dotY, type: "scatter", mode: "markers", marker: { size: 11, color: dotColour },
    xaxis: "x", yaxis: "y2", hoverinfo: "skip", showlegend: false,
  });
  shown.forEach((s, k) => {
    const members = s.members.map((m, j) => (m ? j : -1)).filter((j) => j >= 0);
    if (members.length > 1) {
      traces.push({
        x: members.map(() => k), y: [Math.min(...members), Math.max(...members)], type: "scatter",
        mode: "lines", line: { color: "#334e68", width: 3 }, xaxis: "x", yaxis: "y2", hoverinfo: "skip", showlegend: false,
      });
    }
  });
  dg.plotly.newPlot(target, traces, {
    title: { text: "Significant genes shared between results (UpSet: genes significant in exactly the dotted results)", font: { size: 13 }, x: 0.01, xanchor: "left" },
    xaxis: { showticklabels: false, range: [-0.6, shown.length - 0.4], zeroline: false },
    yaxis: { domain: [0.42, 1], title: { text: "genes" } },
    yaxis2: { domain: [0, 0.38], tickvals: o.sets.map((_, j) => j), ticktext: sets, autorange: "reversed", automargin: true, zeroline: false, showgrid: false },
    height: 320 + 24 * o.sets.length, margin: { l: 20, r: 20, t: 40, b: 20 }, bargap: 0.3,
  }, { responsive: true, displaylogo: false });
}

// --- wiring ---------------------------------------------------------------------------------

function selectResult(key, DataTable) {
  dg.result = dg.data.results.find((r) => r.key === key);
  buildTable(DataTable);
  drawResultPlots();
  drawPca();
  const summary = document.getElementById("result-summary");
  const r = dg.result;
  summary.textContent = `${r.factor}: ${r.level} vs ${r.reference}; ${r.n_tested.toLocaleString("en-US")} genes tested, ${r.n_significant.toLocaleString("en-US")} significant.`;
  const first = tableRows(r).sort((a, b) => (a[6] ?? Infinity) - (b[6] ?? Infinity))[0];
  if (first) showGene(first[0]);
}

async function start() {
  const status = document.getElementById("explore-status");
  try {
    await Promise.all([loadClassicScript("lib-plotly"), loadStyle("lib-datatables-css")]);
    const tables = await loadModule("lib-datatables");
    dg.plotly = window.Plotly;
    const DataTable = tables.jQuery.fn.dataTable;
    dg.data = JSON.parse(await gunzipText("explore-data"));
    const select = document.getElementById("result-select");
    for (const r of dg.data.results) select.appendChild(el("option", { value: r.key }, r.label));
    const colour = document.getElementById("pca-colour");
    for (const f of Object.keys(dg.data.sheet)) colour.appendChild(el("option", { value: f }, f));
    if (dg.data.results.length) {
      colour.value = dg.data.results[0].factor;
      select.addEventListener("change", () => selectResult(select.value, DataTable));
      colour.addEventListener("change", drawPca);
      selectResult(dg.data.results[0].key, DataTable);
    } else {
      drawPca();
    }
    drawCooks();
    drawOverlap();
    document.getElementById("lookup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      lookUpGene(document.getElementById("gene-lookup").value);
    });
    document.getElementById("download-table").addEventListener("click", downloadTable);
    status.textContent = "";
    document.body.dataset.exploreReady = "true";
  } catch (error) {
    status.textContent = `The interactive part could not start: ${error}`;
    throw error;
  }
}

start();
