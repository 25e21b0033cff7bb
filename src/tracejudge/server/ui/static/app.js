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

  document.addEventListener("click", function (event) {
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
    // Collapse / expand a subtree of the span tree.
    var toggle = event.target.closest(".tree-toggle");
    if (toggle) {
      event.stopPropagation();
      var li = toggle.closest("li");
      li.classList.toggle("collapsed");
      toggle.setAttribute("aria-expanded", li.classList.contains("collapsed") ? "false" : "true");
    }
  }, true);

  window.tracejudge = { flashTarget: flashTarget };
})();
