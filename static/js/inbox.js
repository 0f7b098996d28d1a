// The approval inbox: ticking identical rows for one decision, and the keyboard (j/k move, x tick,
// a approve, r reject, e open, ? help). The list is swapped by polling every few seconds, so what
// is ticked and which row is current live here and are put back after each swap.
(function () {
  "use strict";
  var ticked = new Set();  // checkbox values, "<id>:<seen hash>": a changed request is not kept ticked
  var currentId = null;

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#inbox-list tr.inbox-row")); }
  function box(row) { return row.querySelector("input[name=selected]"); }
  function form() { return document.getElementById("bulk-form"); }
  function current() { return currentId && document.getElementById(currentId); }

  function tickedGroup() {
    var row = rows().find(function (r) { return box(r) && ticked.has(box(r).value); });
    return row ? row.dataset.group : null;
  }

  // Only identical requests go together: once one is ticked, the others cannot be.
  function refresh() {
    var present = new Set(rows().map(function (r) { return box(r) && box(r).value; }));
    ticked.forEach(function (value) { if (!present.has(value)) ticked.delete(value); });
    var group = tickedGroup();
    rows().forEach(function (row) {
      var input = box(row);
      row.classList.toggle("current", row.id === currentId);
      if (!input) return;
      input.checked = ticked.has(input.value);
      input.disabled = group !== null && row.dataset.group !== group;
      input.title = input.disabled ? "Not identical to the ticked requests (tool, arguments, policy)" : "";
      row.classList.toggle("ticked", input.checked);
    });
    if (!form()) return;
    var count = ticked.size;
    form().querySelectorAll(".bulk-buttons button").forEach(function (b) { b.disabled = count === 0; });
    document.getElementById("bulk-status").textContent = count
      ? count + " identical request" + (count === 1 ? "" : "s") + " ticked"
      : "Tick identical requests (same tool, arguments and policy) to decide them together.";
  }

  function tick(row, on) {
    var input = row && box(row);
    if (!input || input.disabled) return false;
    if (on) ticked.add(input.value); else ticked.delete(input.value);
    refresh();
    return true;
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = all[at < 0 ? 0 : Math.min(Math.max(at + step, 0), all.length - 1)];
    currentId = next.id;
    refresh();
    next.scrollIntoView({block: "nearest"});
  }

  function tickCurrentIfNone() {
    if (ticked.size === 0) tick(current(), true);
    return ticked.size > 0;
  }

  function submit(verdict) {
    var button = form() && form().querySelector(".bulk-buttons button[value=" + verdict + "]");
    if (button && !button.disabled) button.click();  // a click, so the verdict is sent as the submitter
  }

  function toggleHelp() {
    var dialog = document.getElementById("shortcuts");
    if (dialog.open) dialog.close(); else dialog.showModal();
  }

  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  var keys = {
    j: function () { move(1); },
    k: function () { move(-1); },
    x: function () { var row = current(); if (row && box(row)) tick(row, !box(row).checked); },
    a: function () { if (tickCurrentIfNone()) submit("approve"); },
    r: function () { if (tickCurrentIfNone()) document.getElementById("bulk-comment").focus(); },
    e: function () { var row = current(); if (row) location.href = row.dataset.href; },
    Enter: function () { keys.e(); },
    "?": toggleHelp,
  };

  document.addEventListener("keydown", function (event) {
    if (event.target.id === "bulk-comment" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit("reject");
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.getElementById("shortcuts").open && event.key !== "?") return;
    var action = keys[event.key];
    if (!action) return;
    event.preventDefault();  // "r" focuses the comment: the key must not be typed into it
    action();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("#inbox-list input[name=selected]")) tick(event.target.closest("tr"), event.target.checked);
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest(".shortcuts-open")) toggleHelp();
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id === "inbox-list") refresh();
  });
  document.body.addEventListener("bulk-decided", function () {  // sent by the server when any was decided
    var comment = document.getElementById("bulk-comment");
    ticked.clear();
    comment.value = "";
    comment.blur();  // back to the list, so the next key is a shortcut again
    refresh();
  });
  refresh();
})();
