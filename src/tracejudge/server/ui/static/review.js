/* tracejudge review: the label panel (autosave, undo) and the queue's keyboard. No build step.
 *
 * The panel sends its whole state (label, note, failure modes) on every change; saves are
 * chained so they reach the server in order, and navigation waits for the last one.
 * Keys act only on a queue page and never while typing in a field (except Ctrl+Enter).
 */
(function () {
  "use strict";

  var pending = Promise.resolve();
  var noteTimer = null;
  var saveGeneration = 0; // bumped by every queued save; see save()

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function panel() {
    return document.querySelector("[data-label-panel]");
  }

  function setStatus(p, text, bad) {
    var el = p.querySelector("[data-save-status]");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("bad", !!bad);
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || response.statusText);
        return data;
      });
    });
  }

  function key(p) {
    return {
      trace_id: p.dataset.traceId,
      span_id: p.dataset.spanId || null,
      queue_id: p.dataset.queueId || null,
    };
  }

  function stateOf(p) {
    var body = key(p);
    body.label = p.dataset.label || null;
    body.note = p.querySelector("[data-note]").value;
    body.failure_modes = Array.prototype.map.call(
      p.querySelectorAll('[data-mode][aria-pressed="true"]'),
      function (chip) { return chip.dataset.mode; }
    );
    return body;
  }

  function showProgress(data) {
    if (!data.progress) return;
    var text = document.querySelector("[data-progress]");
    if (text) text.textContent = data.progress;
    var bar = document.querySelector("[data-progress-bar]");
    var m = /^(\d+) of (\d+)/.exec(data.progress);
    if (bar && m) { bar.value = +m[1]; bar.max = +m[2]; }
  }

  function apply(p, record) {
    p.dataset.label = record.label || "";
    p.querySelectorAll("[data-set-label]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.setLabel === record.label ? "true" : "false");
    });
    p.querySelector("[data-note]").value = record.note || "";
    p.querySelectorAll("[data-mode]").forEach(function (chip) {
      var on = record.failure_modes.indexOf(chip.dataset.mode) >= 0;
      chip.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  /* Queue a save of the panel's current state; resolves when it is stored. */
  function save(p) {
    clearTimeout(noteTimer);
    noteTimer = null;
    var body = stateOf(p);
    if (!body.label && !body.note && !body.failure_modes.length && !p.dataset.saved) {
      return pending; // nothing entered yet: nothing to store
    }
    setStatus(p, "Saving…");
    var generation = ++saveGeneration;
    pending = pending.then(function () {
      return post("/review/annotate", body).then(function (data) {
        p.dataset.saved = "1";
        // Only the newest queued save may say "Saved": an older one finishing while a
        // newer one is still in flight would claim the latest change is stored.
        if (generation === saveGeneration) setStatus(p, "Saved");
        showProgress(data);
      }, function (error) {
        setStatus(p, "Not saved: " + error.message, true);
      });
    });
    return pending;
  }

  function flush() {
    var p = panel();
    if (p && noteTimer !== null) return save(p);
    return pending;
  }

  function setLabel(p, label) {
    p.dataset.label = label;
    p.querySelectorAll("[data-set-label]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.setLabel === label ? "true" : "false");
    });
    return save(p);
  }

  function undo(p) {
    return flush().then(function () {
      setStatus(p, "Undoing…");
      return post("/review/undo", key(p)).then(function (data) {
        apply(p, data.annotation);
        setStatus(p, "Undone");
        showProgress(data);
      }, function (error) {
        setStatus(p, error.message, true);
      });
    });
  }

  function reloadPanel(p, spanId) {
    var url = p.dataset.panelUrl + "?" + new URLSearchParams(
      Object.assign({}, spanId ? { span_id: spanId } : {}, p.dataset.queueId ? { queue_id: p.dataset.queueId } : {})
    ).toString();
    flush().then(function () {
      return fetch(url, { credentials: "same-origin" });
    }).then(function (r) { return r.text(); }).then(function (html) {
      var box = document.createElement("div");
      box.innerHTML = html;
      var fresh = box.querySelector("[data-label-panel]");
      if (fresh) p.replaceWith(fresh);
    });
  }

  document.addEventListener("click", function (event) {
    var p = event.target.closest("[data-label-panel]");
    if (p) {
      var verdict = event.target.closest("[data-set-label]");
      if (verdict) setLabel(p, verdict.dataset.setLabel);
      var chip = event.target.closest("[data-mode]");
      if (chip) {
        chip.setAttribute("aria-pressed", chip.getAttribute("aria-pressed") === "true" ? "false" : "true");
        save(p);
      }
      if (event.target.closest("[data-undo]")) undo(p);
    }
    if (event.target.closest("[data-help-toggle]")) toggleHelp();
  });

  document.addEventListener("input", function (event) {
    if (!event.target.matches("[data-label-panel] [data-note]")) return;
    var p = event.target.closest("[data-label-panel]");
    clearTimeout(noteTimer);
    setStatus(p, "Editing…");
    noteTimer = setTimeout(function () { save(p); }, 700);
  });

  document.addEventListener("change", function (event) {
    var p = event.target.closest("[data-label-panel]");
    if (!p) return;
    if (event.target.matches("[data-note]")) save(p);
    if (event.target.matches("[data-scope]")) reloadPanel(p, event.target.value);
  });

  function toggleHelp() {
    var help = document.querySelector("[data-keys-help]");
    if (help) help.hidden = !help.hidden;
  }

  function go(url) {
    if (!url) return;
    flush().then(function () { window.location.href = url; });
  }

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  document.addEventListener("keydown", function (event) {
    var queue = document.querySelector("[data-queue]");
    if (!queue) return;
    var p = panel();
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      var done = p ? save(p) : pending;
      done.then(function () { window.location.href = queue.dataset.continueUrl; });
      return;
    }
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var handled = true;
    switch (event.key) {
      case "j": case "ArrowDown": case "ArrowRight": go(queue.dataset.nextUrl); break;
      case "k": case "ArrowUp": case "ArrowLeft": go(queue.dataset.prevUrl); break;
      case "1": if (p) setLabel(p, "pass"); break;
      case "2": if (p) setLabel(p, "fail"); break;
      case "d": if (p) setLabel(p, "defer"); break;
      case "u": if (p) undo(p); break;
      case "n": if (p) p.querySelector("[data-note]").focus(); break;
      case "?": toggleHelp(); break;
      case "Escape": var help = document.querySelector("[data-keys-help]"); if (help) help.hidden = true; break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  window.tracejudgeReview = { save: save, flush: flush };
})();
