/* capability-tests run explorer. Reads the page's JSON block, draws curves with uPlot and builds
   every table with DOM calls. Untrusted text (model output, answers, problem ids, prompts) only
   ever goes into text nodes (textContent / createTextNode), never into HTML. Per-problem samples
   come from explorer/problems/<file>.js, loaded with a script element on demand. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  var COLLAPSE_CHARS = 1500;
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  var pending = {};      // file -> callbacks waiting for it
  var cache = {};        // file -> problem data (only the problems on screen are kept)
  var app = document.getElementById("app");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = String(value);
        else if (key === "cls") node.className = value;
        else if (key === "on") Object.keys(value).forEach(function (e) { node.addEventListener(e, value[e]); });
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function fmt(x, digits) {
    if (x === null || x === undefined) return "–";
    return (100 * x).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function interval(ci) {
    return ci ? " [" + fmt(ci[0]) + ", " + fmt(ci[1]) + "]" : "";
  }

  /* pass@k of one problem, the unbiased estimator 1 - C(n-c,k)/C(n,k) as a running product */
  function passAtK(n, c, k) {
    if (!n || k > n) return null;
    if (n - c < k) return 1;
    var p = 1;
    for (var j = 0; j < k; j++) p *= (n - c - j) / (n - j);
    return 1 - p;
  }

  /* --- loading one problem's samples ------------------------------------------------------- */
  window.CTExplorer = {
    problemLoaded: function (file, data) {
      cache[file] = data;
      (pending[file] || []).forEach(function (cb) { cb(data, null); });
      delete pending[file];
    }
  };

  function loadProblem(file, cb) {
    if (cache[file]) { cb(cache[file], null); return; }
    if (pending[file]) { pending[file].push(cb); return; }
    pending[file] = [cb];
    var script = document.createElement("script");
    script.src = "explorer/problems/" + file;
    script.onload = function () { script.remove(); };
    script.onerror = function () {
      script.remove();
      (pending[file] || []).forEach(function (f) { f(null, "cannot load explorer/problems/" + file); });
      delete pending[file];
    };
    document.body.appendChild(script);
  }

  function forget(except) {
    Object.keys(cache).forEach(function (f) { if (except.indexOf(f) < 0) delete cache[f]; });
  }

  /* --- curves ------------------------------------------------------------------------------ */
  function chart(container, title, curves, crossovers) {
    /* curves: [{label, color, curve}] where curve has k, pass, pass_lo, ..., guess */
    if (!window.uPlot) { container.appendChild(el("p", { cls: "note", text: "chart library not loaded" })); return; }
    var ks = null;
    curves.forEach(function (c) { if (c.curve && (!ks || c.curve.k.length > ks.length)) ks = c.curve.k; });
    if (!ks || !ks.length) { container.appendChild(el("p", { cls: "note", text: "no curve recorded" })); return; }
    var data = [ks], series = [{ label: "k", value: function (u, v) { return v === null ? "–" : String(v); } }], bands = [];
    function column(curve, name) {
      return ks.map(function (_, i) { var v = curve[name]; return v && i < v.length ? v[i] : null; });
    }
    function add(label, values, opts) {
      if (!values.some(function (v) { return v !== null; })) return -1;
      data.push(values);
      series.push(Object.assign({ label: label, value: function (u, v) { return v === null ? "–" : fmt(v, 2); } }, opts));
      return series.length - 1;
    }
    var METRIC_COLORS = { pass: "#1f77b4", maj: "#ff7f0e", all: "#2ca02c" };
    curves.forEach(function (c) {
      var prefix = curves.length > 1 ? c.label + ": " : "";
      /* a comparison overlays pass@k only (the curve the crossover is about), one colour a run */
      var metrics = [["pass", "pass@k", []], ["maj", "maj@k", [6, 3]], ["all", "pass^k", [2, 3]]];
      metrics.slice(0, curves.length > 1 ? 1 : 3).forEach(function (m) {
        /* one run: a colour per metric; several runs: a colour per run, a dash per metric */
        var color = curves.length > 1 ? c.color : METRIC_COLORS[m[0]];
        var mid = add(prefix + m[1], column(c.curve, m[0]), { stroke: color, width: 2, dash: m[2] });
        if (mid < 0) return;
        var band = { stroke: color, width: 0, points: { show: false } };
        var lo = add(prefix + m[1] + " 95% low", column(c.curve, m[0] + "_lo"), Object.assign({}, band));
        var hi = add(prefix + m[1] + " 95% high", column(c.curve, m[0] + "_hi"), Object.assign({}, band));
        if (lo > 0 && hi > 0) bands.push({ series: [hi, lo], fill: color + (m[0] === "pass" ? "30" : "1c") });
      });
      add(prefix + "uniform guesser", column(c.curve, "guess"), { stroke: "#777", width: 1, dash: [2, 4] });
    });
    var width = Math.max(420, Math.min(900, (container.clientWidth || 900) - 10));
    var opts = {
      title: title, width: width, height: 320, series: series, bands: bands,
      scales: { x: { time: false, distr: 3, log: 2 }, y: { range: [0, 1] } },
      axes: [{ label: "k (samples drawn)", values: function (u, v) { return v.map(String); } }, { label: "estimate", values: function (u, v) { return v.map(function (x) { return Math.round(100 * x) + "%"; }); } }],
      legend: { live: true },
      plugins: crossovers && crossovers.length ? [crossoverPlugin(crossovers)] : []
    };
    var box = el("div", { cls: "chart" });
    container.appendChild(box);
    new window.uPlot(opts, data, box);
  }

  function crossoverPlugin(crossovers) {
    return { hooks: { draw: function (u) {
      var ctx = u.ctx;
      crossovers.forEach(function (cross) {
        if (!cross.k) return;
        var x = u.valToPos(cross.k, "x", true);
        ctx.save();
        ctx.strokeStyle = "#444"; ctx.setLineDash([3, 3]); ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.restore();
      });
    } } };
  }

  /* --- figures (the testing contract: data-benchmark, data-metric, data-value) -------------- */
  function figureTable(name, figures, run) {
    var byK = {};
    figures.forEach(function (f) { (byK[f.k] = byK[f.k] || {})[f.kind] = f; });
    var table = el("table", { cls: "figures" }, [el("thead", null, [el("tr", null, [
      el("th", { text: "k" }), el("th", { text: "pass@k [95%]" }), el("th", { text: "maj@k [95%]" }), el("th", { text: "pass^k [95%]" })])])]);
    var body = el("tbody");
    Object.keys(byK).map(Number).sort(function (a, b) { return a - b; }).forEach(function (k) {
      var row = el("tr", null, [el("td", { text: String(k) })]);
      ["pass", "maj", "pass^"].forEach(function (kind) {
        var f = null;
        figures.forEach(function (g) { if (g.k === k && g.metric === (kind === "pass^" ? "pass^" : kind + "@") + k) f = g; });
        if (!f) { row.appendChild(el("td", { text: "–" })); return; }
        row.appendChild(el("td", { "data-benchmark": name, "data-metric": f.metric, "data-value": f.value, "data-run": run,
                                   text: fmt(Number(f.value)) + interval(f.ci) }));
      });
      body.appendChild(row);
    });
    table.appendChild(body);
    return table;
  }

  /* --- the problem table --------------------------------------------------------------------- */
  var COLUMNS = [
    ["id", "problem", function (r) { return r.id; }],
    ["c", "correct / n", function (r) { return r.n ? r.c / r.n : -1; }],
    ["pk", "pass@k", null],
    ["cls", "answers", function (r) { return r.cls === null || r.cls === undefined ? -1 : r.cls; }],
    ["na", "no answer", function (r) { return r.na; }],
    ["tr", "truncated", function (r) { return r.tr; }],
    ["to", "timeouts", function (r) { return r.to; }],
    ["ge", "grading errors", function (r) { return r.ge; }],
    ["tok", "mean tokens", function (r) { return r.tok || 0; }],
    ["level", "level", function (r) { return r.level || ""; }],
    ["subject", "subject", function (r) { return r.subject || ""; }]
  ];

  function problemTable(name, bench, section) {
    var rows = bench.rows;
    var n = bench.summary.n || 1;
    var ks = []; for (var k = 1; k <= n; k *= 2) ks.push(k);
    if (ks[ks.length - 1] !== n) ks.push(n);
    var state = { k: Math.min(8, n), sort: "id", dir: 1, filter: "all", level: "", subject: "", q: "" };
    var hasLevel = rows.some(function (r) { return r.level; }), hasSubject = rows.some(function (r) { return r.subject; });
    var controls = el("div", { cls: "controls" });
    function select(label, options, key, attrs) {
      var s = el("select", Object.assign({ "aria-label": label }, attrs || {}));
      options.forEach(function (o) { s.appendChild(el("option", { value: o[0], text: o[1] })); });
      s.value = String(state[key]);
      s.addEventListener("change", function () { state[key] = key === "k" ? Number(s.value) : s.value; render(); });
      controls.appendChild(el("label", null, [label + " ", s]));
    }
    select("pass@k at k =", ks.map(function (k) { return [k, String(k)]; }), "k", { "data-control": "k" });
    select("show", [["all", "all problems"], ["unsolved", "unsolved"], ["solved", "solved"], ["rare", "rare solves"],
                    ["no_answer", "with no-answer samples"], ["truncated", "with truncated samples"],
                    ["grading", "grading errors or timeouts"], ["errored", "errored"]], "filter", { "data-control": "filter" });
    function distinct(key) { var seen = {}; rows.forEach(function (r) { if (r[key]) seen[r[key]] = 1; }); return Object.keys(seen).sort(); }
    if (hasLevel) select("level", [["", "any"]].concat(distinct("level").map(function (v) { return [v, v]; })), "level", { "data-control": "level" });
    if (hasSubject) select("subject", [["", "any"]].concat(distinct("subject").map(function (v) { return [v, v]; })), "subject", { "data-control": "subject" });
    var search = el("input", { type: "search", placeholder: "problem id", "aria-label": "problem id", "data-control": "search" });
    search.addEventListener("input", function () { state.q = search.value; render(); });
    controls.appendChild(search);
    var count = el("span", { cls: "count" });
    controls.appendChild(count);
    section.appendChild(controls);

    var head = el("tr");
    COLUMNS.forEach(function (col) {
      if ((col[0] === "level" && !hasLevel) || (col[0] === "subject" && !hasSubject)) return;
      var th = el("th", { "data-sort": col[0], tabindex: 0, title: "sort" , text: col[1] });
      function sort() { state.dir = state.sort === col[0] ? -state.dir : 1; state.sort = col[0]; render(); }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
      head.appendChild(th);
    });
    var body = el("tbody");
    var table = el("table", { cls: "problems", "data-benchmark": name }, [el("thead", null, [head]), body]);
    var tableBox = el("div", { cls: "scroll" }, [table]);
    section.appendChild(tableBox);

    /* rows built with plain DOM calls (thousands of them: no helper overhead), each cell's text
       through textContent */
    function cell(tr, text, cls) {
      var td = document.createElement("td");
      if (cls) td.className = cls;
      td.textContent = text;
      tr.appendChild(td);
      return td;
    }
    function openRow(e) {
      if (e.type === "keydown" && e.key !== "Enter" && e.key !== " ") return;
      if (e.type === "keydown") e.preventDefault();
      openProblem(name, e.currentTarget._row, tableBox);
    }
    var trs = rows.map(function (r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-problem", r.id);
      tr.setAttribute("data-benchmark", name);
      tr.tabIndex = 0;
      tr.className = r.err ? "errored" : (r.c ? "" : "unsolved");
      tr.addEventListener("click", openRow);
      tr.addEventListener("keydown", openRow);
      var pid = cell(tr, r.id, "pid");
      if (r.rare) pid.appendChild(el("span", { cls: "badge", text: "rare" }));
      cell(tr, r.err ? "error" : r.c + " / " + r.n);
      tr._pk = cell(tr, "", "pk");
      cell(tr, r.cls === null || r.cls === undefined ? "–" : String(r.cls));
      cell(tr, String(r.na || 0), r.na ? "warn" : "");
      cell(tr, String(r.tr || 0), r.tr ? "warn" : "");
      cell(tr, String(r.to || 0), r.to ? "warn" : "");
      cell(tr, String(r.ge || 0), r.ge ? "warn" : "");
      cell(tr, r.tok === null || r.tok === undefined ? "–" : String(Math.round(r.tok)));
      if (hasLevel) cell(tr, r.level || "");
      if (hasSubject) cell(tr, r.subject || "");
      tr._row = r;
      return tr;
    });

    function keep(r) {
      if (state.level && r.level !== state.level) return false;
      if (state.subject && r.subject !== state.subject) return false;
      if (state.q && r.id.toLowerCase().indexOf(state.q.toLowerCase()) < 0) return false;
      switch (state.filter) {
        case "unsolved": return !r.err && r.c === 0;
        case "solved": return !r.err && r.c > 0;
        case "rare": return r.rare;
        case "no_answer": return r.na > 0;
        case "truncated": return r.tr > 0;
        case "grading": return r.ge > 0 || r.to > 0;
        case "errored": return !!r.err;
      }
      return true;
    }
    function render() {
      trs.forEach(function (tr) { var r = tr._row; r._pk = r.err ? null : passAtK(r.n, r.c, state.k); tr._pk.textContent = r._pk === null ? "–" : fmt(r._pk); });
      var key = state.sort, col = null;
      COLUMNS.forEach(function (c) { if (c[0] === key) col = c; });
      var value = key === "pk" ? function (r) { return r._pk === null ? -1 : r._pk; } : col[2];
      var shown = trs.filter(function (tr) { return keep(tr._row); });
      shown.sort(function (a, b) {
        var x = value(a._row), y = value(b._row);
        return (x < y ? -1 : x > y ? 1 : (a._row.id < b._row.id ? -1 : 1)) * state.dir;
      });
      body.textContent = "";
      var frag = document.createDocumentFragment();
      shown.forEach(function (tr) { frag.appendChild(tr); });
      body.appendChild(frag);
      count.textContent = shown.length + " of " + rows.length + " problems";
      head.querySelectorAll("th").forEach(function (th) {
        th.setAttribute("aria-sort", th.getAttribute("data-sort") === key ? (state.dir > 0 ? "ascending" : "descending") : "none");
      });
    }
    render();
  }

  /* --- one problem's view -------------------------------------------------------------------- */
  var view = null;
  function problemPanel(title, anchor) {
    /* in the page flow, right after the table it was opened from (no overlay hides the rows) */
    if (view) view.remove();
    view = el("section", { id: "problem-view", "aria-live": "polite", tabindex: -1 });
    var close = el("button", { cls: "close", text: "close", on: { click: function () { view.remove(); view = null; forget([]); } } });
    view.appendChild(el("div", { cls: "view-head" }, [el("h2", { text: title }), close]));
    if (anchor && anchor.parentNode) anchor.parentNode.insertBefore(view, anchor.nextSibling);
    else app.appendChild(view);
    return view;
  }

  function openProblem(name, row, anchor) {
    var panel = problemPanel(name + " / " + row.id, anchor);
    panel.setAttribute("data-problem", row.id);
    panel.setAttribute("data-benchmark", name);
    if (!row.f) { panel.appendChild(el("p", { cls: "note", text: "no per-sample records for this problem" + (row.err ? " (" + row.err + ")" : "") })); panel.setAttribute("data-state", "ready"); return; }
    panel.setAttribute("data-state", "loading");
    var status = el("p", { cls: "note", text: "loading samples…" });
    panel.appendChild(status);
    forget([row.f]);
    loadProblem(row.f, function (data, error) {
      if (view !== panel) return;
      status.remove();
      if (error) { panel.appendChild(el("p", { cls: "error", text: error })); panel.setAttribute("data-state", "error"); return; }
      renderProblem(panel, data, row);
      window.CTExplorer.problemReadyAt = performance.now();
      panel.setAttribute("data-state", "ready");
      panel.focus({ preventScroll: true });
    });
  }

  function collapsible(tag, text, attrs) {
    var node = el(tag, attrs);
    node.textContent = text === null || text === undefined ? "" : text;
    return node;
  }

  function problemHead(panel, data, row) {
    var facts = el("dl", { cls: "facts" });
    function fact(k, v) { facts.appendChild(el("dt", { text: k })); facts.appendChild(el("dd", { text: v })); }
    if (row) fact("correct", row.c + " of " + row.n);
    fact("reference answer", data.reference === null ? "(benchmark data not available)" : data.reference);
    if (data.source) fact("source", data.source);
    if (data.texts_missing) fact("texts", data.texts_missing + " sample texts not in the store" + (DATA.texts_missing ? " (" + DATA.texts_missing + ")" : ""));
    panel.appendChild(facts);
    panel.appendChild(el("h3", { text: "Prompt" }));
    panel.appendChild(collapsible("pre", data.prompt === null ? "(benchmark data not available)" : data.prompt, { cls: "prompt", "data-prompt": "" }));
  }

  function renderProblem(panel, data, row) {
    problemHead(panel, data, row);
    var classes = data.wrong_classes || [];
    var filterBar = el("div", { cls: "controls sample-filter" });
    var list = el("div", { cls: "samples" });
    var cards = data.samples.map(function (s) { return sampleCard(s); });
    function show(pred, label) {
      var shown = 0;
      cards.forEach(function (c) { var on = pred(c._s); c.hidden = !on; shown += on ? 1 : 0; });
      current.textContent = label + ": " + shown + " of " + cards.length + " samples";
    }
    function button(label, pred) { return el("button", { text: label, on: { click: function () { show(pred, label); } } }); }
    var counts = {};
    data.samples.forEach(function (s) { counts[s.o] = (counts[s.o] || 0) + 1; });
    filterBar.appendChild(button("all (" + data.samples.length + ")", function () { return true; }));
    Object.keys(counts).sort().forEach(function (o) { filterBar.appendChild(button(o + " (" + counts[o] + ")", function (s) { return s.o === o; })); });
    var current = el("span", { cls: "count" });
    filterBar.appendChild(current);
    if (classes.length) {
      panel.appendChild(el("h3", { text: "Wrong answers by class (" + classes.length + ")" }));
      var tbl = el("table", { cls: "classes" }, [el("thead", null, [el("tr", null, [el("th", { text: "answer" }), el("th", { text: "samples" }), el("th", { text: "" })])])]);
      var tb = el("tbody");
      classes.forEach(function (c) {
        var members = {}; c.samples.forEach(function (i) { members[i] = 1; });
        tb.appendChild(el("tr", { "data-answer-class": "" }, [el("td", null, [el("code", { text: c.answer })]), el("td", { text: String(c.count) }),
          el("td", null, [el("button", { text: "show", on: { click: function () { show(function (s) { return members[s.i]; }, "answer " + c.answer); } } })])]));
      });
      tbl.appendChild(tb);
      panel.appendChild(tbl);
    }
    panel.appendChild(el("h3", { text: "Samples" }));
    panel.appendChild(filterBar);
    var frag = document.createDocumentFragment();
    cards.forEach(function (c) { frag.appendChild(c); });
    list.appendChild(frag);
    panel.appendChild(list);
    show(function () { return true; }, "all");
  }

  function markAnswer(pre, text, answer) {
    /* the completion as text, with the last occurrence of the extracted answer in a <mark> */
    var at = answer ? text.lastIndexOf(answer) : -1;
    if (at < 0) { pre.textContent = text; return; }
    pre.appendChild(document.createTextNode(text.slice(0, at)));
    pre.appendChild(el("mark", { text: answer }));
    pre.appendChild(document.createTextNode(text.slice(at + answer.length)));
  }

  function sampleCard(s) {
    var card = el("article", { cls: "sample " + (s.o || ""), "data-sample-card": s.i, "data-outcome": s.o });
    var head = el("div", { cls: "sample-head" }, [
      el("span", { cls: "idx", text: "#" + s.i }),
      el("span", { cls: "verdict", text: s.o || "?" }),
      el("span", { cls: "extracted" }, ["answer: ", s.x === null ? el("em", { text: "none found" }) : el("code", { text: s.x })]),
      el("span", { cls: "reason", text: s.r || "" }),
      el("span", { cls: "tokens", text: (s.t === null ? "?" : s.t) + " tokens, finish: " + (s.f || "?") })
    ]);
    card.appendChild(head);
    var pre = el("pre", { cls: "text", "data-sample": s.i });
    if (s.text === null || s.text === undefined) {
      card.appendChild(el("p", { cls: "note", text: "text not in the completion store" }));
    } else {
      markAnswer(pre, s.text, s.x);
      card.appendChild(pre);
      if (s.text.length > COLLAPSE_CHARS || s.text.split("\n").length > 25) {
        pre.classList.add("collapsed");
        var toggle = el("button", { cls: "toggle", text: "show all " + s.text.length + " characters" });
        toggle.addEventListener("click", function () {
          var collapsed = pre.classList.toggle("collapsed");
          toggle.textContent = collapsed ? "show all " + s.text.length + " characters" : "collapse";
        });
        card.appendChild(toggle);
      }
    }
    card._s = s;
    return card;
  }

  /* --- settings and provenance --------------------------------------------------------------- */
  function kvTable(obj) {
    var table = el("table", { cls: "kv" });
    Object.keys(obj || {}).forEach(function (key) {
      var v = obj[key];
      var cell = el("td");
      if (v !== null && typeof v === "object" && !Array.isArray(v)) cell.appendChild(kvTable(v));
      else cell.textContent = v === null || v === undefined ? "–" : (typeof v === "string" ? v : JSON.stringify(v));
      table.appendChild(el("tr", null, [el("th", { text: key }), cell]));
    });
    return table;
  }

  function details(title, node, open) {
    return el("details", { open: open }, [el("summary", { text: title }), node]);
  }

  /* --- pages --------------------------------------------------------------------------------- */
  function runPage() {
    app.appendChild(el("header", null, [
      el("h1", { text: "pass@k: " + (DATA.model || "?") }),
      el("p", { cls: "sub", text: "run " + DATA.run_id + (DATA.complete ? "" : " — INCOMPLETE: the session stopped early") })
    ]));
    if (DATA.texts_missing) app.appendChild(el("p", { cls: "warnbox", text: "Sample texts are not shown: " + DATA.texts_missing }));
    var nav = el("nav", null, []);
    app.appendChild(nav);
    Object.keys(DATA.benchmarks).forEach(function (name) {
      var bench = DATA.benchmarks[name];
      nav.appendChild(el("a", { href: "#bench-" + encodeURIComponent(name), text: name }));
      var section = el("section", { cls: "benchmark", id: "bench-" + encodeURIComponent(name), "data-benchmark": name });
      var s = bench.summary;
      section.appendChild(el("h2", { text: name }));
      section.appendChild(el("p", { cls: "sub", text: (s.problems || 0) + " problems, n = " + (s.n || 0) + " samples each; " +
        (s.errors || 0) + " errored; samples: " + (s.wrong || 0) + " wrong, " + (s.no_answer || 0) + " no answer, " +
        (s.grading_timeouts || 0) + " grading timeouts, " + (s.grading_errors || 0) + " grading errors" }));
      if (bench.data_missing) section.appendChild(el("p", { cls: "warnbox", text: "Prompts and references not shown: " + bench.data_missing }));
      var top = el("div", { cls: "top" });
      section.appendChild(top);
      var chartBox = el("div", { cls: "chart-box" });
      top.appendChild(chartBox);
      top.appendChild(figureTable(name, bench.figures));
      app.appendChild(section);
      chart(chartBox, name, [{ label: name, color: COLORS[0], curve: bench.curve }]);
      if (s.last_doubling) section.appendChild(el("p", { cls: "note", text: "last doubling k " + s.last_doubling.from_k + " → " + s.last_doubling.to_k +
        ": gain " + fmt(s.last_doubling.gain, 2) + interval(s.last_doubling.interval) + (s.last_doubling.rising ? " (still rising)" : "") }));
      if (s.maj_at_k_note) section.appendChild(el("p", { cls: "note", text: "maj@k: " + s.maj_at_k_note }));
      problemTable(name, bench, section);
    });
    var settings = el("section", { cls: "settings", id: "settings" }, [el("h2", { text: "Settings and provenance" })]);
    settings.appendChild(details("Settings", kvTable(DATA.settings), true));
    settings.appendChild(details("Provenance", kvTable(DATA.provenance || {}), true));
    nav.appendChild(el("a", { href: "#settings", text: "settings & provenance" }));
    app.appendChild(settings);
  }

  function comparePage() {
    var runs = DATA.runs || [];
    var label = {}, color = {};
    runs.forEach(function (r, i) { label[r.run_id] = r.label || r.run_id; color[r.run_id] = COLORS[i % COLORS.length]; });
    app.appendChild(el("header", null, [el("h1", { text: "pass@k comparison" }),
      el("ul", { cls: "runs" }, runs.map(function (r) { return el("li", { "data-run": r.run_id, text: (r.label || r.run_id) + " — " + r.run_id + (r.complete ? "" : " (incomplete)") }); }))]));
    Object.keys(DATA.benchmarks).forEach(function (name) {
      var bench = DATA.benchmarks[name];
      var section = el("section", { cls: "benchmark", "data-benchmark": name }, [el("h2", { text: name })]);
      app.appendChild(section);
      var crosses = [];
      bench.pairs.forEach(function (p) { if (p.crossover) crosses.push(p.crossover); });
      var chartBox = el("div", { cls: "chart-box" });
      section.appendChild(chartBox);
      chart(chartBox, name, bench.runs.map(function (r) { return { label: label[r.run_id], color: color[r.run_id], curve: r.curve }; }), crosses);
      var figs = el("div", { cls: "top" });
      bench.runs.forEach(function (r) { figs.appendChild(el("div", null, [el("h4", { text: label[r.run_id] }), figureTable(name, r.figures, r.run_id)])); });
      section.appendChild(figs);
      bench.pairs.forEach(function (p) { section.appendChild(pairView(name, p, label)); });
      if (bench.coverage) section.appendChild(details("N-way coverage", kvTable(bench.coverage), false));
    });
    var settings = el("section", { cls: "settings" }, [el("h2", { text: "Settings that differ" })]);
    (DATA.setting_differences || []).forEach(function (d) {
      settings.appendChild(el("h4", { text: d.a + " vs " + d.b }));
      settings.appendChild(kvTable(d.differences || {}));
    });
    app.appendChild(settings);
  }

  function pairView(name, p, label) {
    var box = el("div", { cls: "pair", "data-pair": p.a + " " + p.b });
    box.appendChild(el("h3", { text: label[p.a] + " vs " + label[p.b] }));
    var c = p.crossover;
    if (c) {
      var text = c.k ? "crossover at k = " + c.k + ": " + label[c.trailer] + " overtakes " + label[c.leader] +
        " (a crossover in " + fmt(c.probability, 0) + " of bootstrap resamples; 95% interval of its k: " + (c.interval ? (c.interval[0] === null ? "> n" : c.interval[0]) + " to " + (c.interval[1] === null ? "> n" : c.interval[1]) : "–") + ")"
        : c.leader ? "no crossover up to k = " + c.k_max + ": " + label[c.leader] + " stays ahead" : "the curves do not differ";
      box.appendChild(el("p", { cls: "crossover", "data-crossover": c.k === null ? "none" : c.k, text: text }));
    }
    var cov = p.coverage || {};
    if (cov.error) box.appendChild(el("p", { cls: "error", text: cov.error }));
    else if (cov.k) {
      box.appendChild(el("p", { cls: "note", text: "coverage at k = " + cov.k + " (" + (DATA.solved_at_k || "") + ")" }));
      var t = el("table", { cls: "coverage" });
      [["a_only", label[p.a] + " only"], ["b_only", label[p.b] + " only"], ["both", "both"], ["neither", "neither"]].forEach(function (s) {
        var ids = cov[s[0]] || [];
        t.appendChild(el("tr", { "data-coverage": s[0], "data-count": ids.length }, [el("th", { text: s[1] }), el("td", { text: String(ids.length) }),
          el("td", { cls: "ids", text: ids.slice(0, 50).join(", ") + (ids.length > 50 ? ", …" : "") })]));
      });
      box.appendChild(t);
    }
    if (p.only && p.only.length) {
      box.appendChild(el("h4", { text: "Problems only one run solves (open one for both runs' samples)" }));
      var tb = el("tbody");
      p.only.forEach(function (o) {
        var tr = el("tr", { "data-problem": o.id, "data-benchmark": name, tabindex: 0 }, [el("td", { text: o.id }), el("td", { text: label[o.solved_by] }),
          el("td", { text: o.runs.map(function (r) { return r.c === null ? "–" : r.c + "/" + r.n; }).join("  vs  ") })]);
        function open() { openPair(name, o, [p.a, p.b], label, box); }
        tr.addEventListener("click", open);
        tr.addEventListener("keydown", function (e) { if (e.key === "Enter") open(); });
        tb.appendChild(tr);
      });
      box.appendChild(el("table", { cls: "problems" }, [el("thead", null, [el("tr", null, [el("th", { text: "problem" }), el("th", { text: "solved only by" }), el("th", { text: "correct/n" })])]), tb]));
    }
    return box;
  }

  function openPair(name, only, ids, label, anchor) {
    var panel = problemPanel(name + " / " + only.id, anchor);
    panel.setAttribute("data-problem", only.id);
    panel.setAttribute("data-state", "loading");
    var cols = el("div", { cls: "side-by-side" });
    panel.appendChild(cols);
    var left = 2, files = only.runs.map(function (r) { return r.f; }).filter(Boolean);
    forget(files);
    only.runs.forEach(function (r, i) {
      var col = el("div", { cls: "side", "data-run": ids[i] }, [el("h3", { text: label[ids[i]] })]);
      cols.appendChild(col);
      function done() { left -= 1; if (left === 0 && view === panel) panel.setAttribute("data-state", "ready"); }
      if (!r.f) { col.appendChild(el("p", { cls: "note", text: "no per-sample records" })); done(); return; }
      loadProblem(r.f, function (data, error) {
        if (view !== panel) return;
        if (error) col.appendChild(el("p", { cls: "error", text: error }));
        else renderProblem(col, data, { c: r.c, n: r.n });
        done();
      });
    });
  }

  try {
    if (DATA.kind === "compare") comparePage(); else runPage();
    window.CTExplorer.readyAt = performance.now();  /* time to interactive, for perf/explorer_scale.py */
    app.setAttribute("data-state", "ready");
  } catch (e) {
    app.setAttribute("data-state", "error");
    app.appendChild(el("p", { cls: "error", text: "The page could not be built: " + e }));
    throw e;
  }
})();
