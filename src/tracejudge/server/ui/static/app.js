/* tracejudge UI: small behaviours shared by every page (no build step). */
(function () {
  "use strict";

  // Highlight the element an in-page anchor points at (a tool call's result, say).
  function flashTarget(id) {
    var el = document.getElementById(id);
    if (!el) return;
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
    el.scrollIntoView({ block: "center", behavior: "smooth" });
  }

  // Span tree rows are flat (depth in data-depth): collapsing hides the following rows
  // that are deeper; expanding shows them again except under a still-collapsed row.
  function setCollapsed(row, collapsed) {
    var depth = Number(row.dataset.depth);
    row.classList.toggle("collapsed", collapsed);
    var toggle = row.querySelector(".tree-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
    var hideBelow = collapsed ? depth : Infinity;
    for (var r = row.nextElementSibling; r && Number(r.dataset.depth) > depth; r = r.nextElementSibling) {
      var d = Number(r.dataset.depth);
      if (!collapsed && hideBelow !== Infinity && d <= hideBelow) hideBelow = Infinity;
      r.classList.toggle("hidden-by-collapse", d > hideBelow || collapsed);
      if (!collapsed && r.classList.contains("collapsed") && hideBelow === Infinity) hideBelow = d;
    }
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".tree-row button.tree-toggle");
    if (toggle) {
      event.stopPropagation();
      event.preventDefault();
      var row = toggle.closest(".tree-row");
      setCollapsed(row, !row.classList.contains("collapsed"));
      return;
    }
    var link = event.target.closest("a[data-flash]");
    if (link) {
      event.preventDefault();
      flashTarget(link.getAttribute("data-flash"));
    }
    // Span tree: mark the selected row.
    var row = event.target.closest(".tree-row[hx-get]");
    if (row) {
      document.querySelectorAll(".tree-row.selected").forEach(function (r) {
        r.classList.remove("selected");
      });
      row.classList.add("selected");
    }
    // Tabs inside a span detail.
    var tab = event.target.closest("[data-tab]");
    if (tab) {
      var box = tab.closest(".tabs");
      box.querySelectorAll("[data-tab]").forEach(function (t) {
        t.setAttribute("aria-selected", t === tab ? "true" : "false");
      });
      box.querySelectorAll("[data-panel]").forEach(function (p) {
        p.hidden = p.getAttribute("data-panel") !== tab.getAttribute("data-tab");
      });
    }
  }, true);

  // After a span detail is swapped in (from a row, a tool-call link, back/forward), select
  // its row in the tree.
  document.addEventListener("htmx:afterSettle", function (event) {
    var article = document.querySelector("#span-detail article[data-span-id]");
    if (!article) return;
    if (event.target && event.target.id === "span-detail") {
      var pane = article.closest(".detail-pane");
      if (pane) pane.scrollTop = 0; // a new span starts at its header
    }
    var id = article.getAttribute("data-span-id");
    document.querySelectorAll(".tree-row").forEach(function (r) {
      r.classList.toggle("selected", r.getAttribute("data-span-id") === id);
    });
  });

  // Arrow keys walk the span tree (visible rows only) on a trace page; a review queue page
  // has its own keys (review.js), and nothing fires while the reviewer types.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    if (document.querySelector("[data-queue]") || event.ctrlKey || event.metaKey || event.altKey) return;
    var el = event.target;
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
    var rows = Array.prototype.filter.call(document.querySelectorAll(".tree-row"), function (r) {
      return !r.classList.contains("hidden-by-collapse");
    });
    if (!rows.length) return;
    var current = rows.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = rows[Math.max(0, Math.min(rows.length - 1, current + (event.key === "ArrowDown" ? 1 : -1)))];
    if (next && next !== rows[current]) {
      event.preventDefault();
      next.click();
      next.scrollIntoView({ block: "nearest" });
    }
  });

  // htmx does not swap error answers: say what went wrong instead of doing nothing.
  function showError(message) {
    var bar = document.getElementById("error-bar");
    if (!bar) {
      bar = document.createElement("div");
      bar.id = "error-bar";
      bar.setAttribute("role", "alert");
      bar.addEventListener("click", function () { bar.hidden = true; });
      document.body.appendChild(bar);
    }
    bar.textContent = message + " (click to dismiss)";
    bar.hidden = false;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var detail = doc.querySelector("[role=alert]");
    showError(xhr.status + ": " + (detail ? detail.textContent.trim() : xhr.statusText || "request failed"));
  });
  document.addEventListener("htmx:sendError", function () {
    showError("The server did not answer; is it still running?");
  });

  window.tracejudge = { flashTarget: flashTarget };
})();
