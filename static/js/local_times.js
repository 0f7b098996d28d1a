// Times in the viewer's time zone: every <time datetime=... data-style=...> the server wrote (in
// its own zone, readable without this script) is rewritten in the browser's zone, on load and in
// whatever HTMX swaps in later. The title keeps the UTC time.
(function () {
  "use strict";

  var clock = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
  var STYLES = {
    datetime: Object.assign({ month: "short", day: "numeric" }, clock),
    time: clock,
    time_ms: Object.assign({ fractionalSecondDigits: 3 }, clock),
    minute: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
              hourCycle: "h23", timeZoneName: "short" },
  };
  var formats = {};

  function format(style) {
    if (!formats[style]) formats[style] = new Intl.DateTimeFormat(undefined, STYLES[style] || STYLES.datetime);
    return formats[style];
  }

  function localize(root) {
    if (!root || !root.querySelectorAll) return;
    var found = root.matches && root.matches("time[data-style]") ? [root] : [];
    found.push.apply(found, root.querySelectorAll("time[data-style]:not([data-local])"));
    found.forEach(function (element) {
      var when = new Date(element.getAttribute("datetime"));
      if (isNaN(when)) return;
      element.textContent = format(element.dataset.style).format(when);
      element.title = when.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
      element.dataset.local = "1";
    });
  }

  document.addEventListener("htmx:load", function (event) { localize(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localize(document.body); });
  } else {
    localize(document.body);
  }
})();
