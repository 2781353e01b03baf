// Rewind report: collapse/expand and search in the process tree, sorting and filtering
// of tables. The page is complete without it (details elements, tables in time order).
// Errors are recorded in body[data-errors] so a headless browser test can read them.
(function () {
  "use strict";
  var body = document.body;
  function recordError(msg) {
    var prev = body.getAttribute("data-errors") || "";
    body.setAttribute("data-errors", (prev ? prev + " | " : "") + String(msg).slice(0, 300));
  }
  window.onerror = function (msg, src, line) { recordError(msg + " @" + line); return false; };
  window.addEventListener("unhandledrejection", function (e) { recordError("rejection: " + e.reason); });

  function each(list, f) { Array.prototype.forEach.call(list, f); }

  // Tables: click a heading to sort, type to filter.
  function setupTable(table) {
    var tbody = table.tBodies[0];
    if (!tbody) { return; }
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    var count = document.querySelector('[data-count-for="' + table.id + '"]');
    var total = tbody.rows.length;
    function showCount(n) { if (count) { count.textContent = n + " of " + total + " rows shown"; } }
    each(heads, function (th, col) {
      th.classList.add("sortable");
      th.addEventListener("click", function () {
        var numeric = th.classList.contains("num");
        var dir = th.classList.contains("asc") ? -1 : 1;
        each(heads, function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(dir === 1 ? "asc" : "desc");
        var rows = Array.prototype.slice.call(tbody.rows);
        rows.sort(function (a, b) {
          var ca = a.cells[col], cb = b.cells[col];
          var r;
          if (numeric) {
            r = parseFloat(ca.getAttribute("data-n") || "0") - parseFloat(cb.getAttribute("data-n") || "0");
          } else {
            r = ca.textContent.localeCompare(cb.textContent);
          }
          return r * dir || (a.getAttribute("data-i") - b.getAttribute("data-i"));
        });
        rows.forEach(function (r) { tbody.appendChild(r); });
      });
    });
    var filter = document.querySelector('input[data-filter-for="' + table.id + '"]');
    if (filter) {
      filter.addEventListener("input", function () {
        var q = filter.value.toLowerCase();
        var shown = 0;
        each(tbody.rows, function (r) {
          var hit = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
          r.style.display = hit ? "" : "none";
          if (hit) { shown++; }
        });
        showCount(shown);
      });
    }
    showCount(total);
  }

  // Process tree: expand all, collapse all, search (matches and their ancestors stay).
  function setupTree(tree) {
    var items = tree.querySelectorAll("li");
    var q = document.getElementById("tree-search");
    var info = document.getElementById("tree-info");
    function setAll(open) { each(tree.querySelectorAll("details"), function (d) { d.open = open; }); }
    var ex = document.getElementById("tree-expand"), co = document.getElementById("tree-collapse");
    if (ex) { ex.addEventListener("click", function () { setAll(true); }); }
    if (co) { co.addEventListener("click", function () { setAll(false); }); }
    if (!q) { return; }
    q.addEventListener("input", function () {
      var s = q.value.toLowerCase();
      var hits = 0;
      each(items, function (li) { li.classList.remove("hit", "hidden"); });
      if (!s) { if (info) { info.textContent = ""; } return; }
      each(items, function (li) { li.classList.add("hidden"); });
      each(items, function (li) {
        var own = li.querySelector(":scope > details > summary, :scope > .leaf");
        if (own && own.textContent.toLowerCase().indexOf(s) >= 0) {
          hits++;
          li.classList.add("hit");
          for (var n = li; n && n !== tree; n = n.parentElement) {
            if (n.tagName === "LI") { n.classList.remove("hidden"); }
            if (n.tagName === "DETAILS" && n !== li.firstElementChild) { n.open = true; }
          }
        }
      });
      if (info) { info.textContent = hits + " processes match"; }
    });
  }

  try {
    body.classList.add("js");
    each(document.querySelectorAll("table.sortable"), setupTable);
    var tree = document.getElementById("proc-tree");
    if (tree) { setupTree(tree); }
    var fit = document.getElementById("graph-fit");
    var wrap = document.querySelector(".graph-wrap");
    if (fit && wrap) { fit.addEventListener("click", function () { wrap.classList.toggle("fit"); }); }
  } catch (e) {
    recordError(e && e.message ? e.message : e);
  }
  body.setAttribute("data-ready", "1");
})();
