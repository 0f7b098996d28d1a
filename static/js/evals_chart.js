// A suite's pass rate across agent versions, drawn with Chart.js (static/vendor) from the same
// numbers as the table under the chart. Each <canvas data-points="ID"> reads the JSON of the
// <script id="ID"> the page wrote with json_script: [{"label": "v3", "pass_rate": 80.0}, ...].
(function () {
  "use strict";

  function cssVariable(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function draw(canvas) {
    const points = JSON.parse(document.getElementById(canvas.dataset.points).textContent);
    const accent = cssVariable("--accent"), muted = cssVariable("--muted"), grid = cssVariable("--line");
    new Chart(canvas, {
      type: "line",
      data: {
        labels: points.map((point) => point.label),
        datasets: [{
          label: "Pass rate",
          data: points.map((point) => point.pass_rate),
          borderColor: accent, backgroundColor: accent, pointRadius: 4, tension: 0,
        }],
      },
      options: {
        animation: false, // drawn at once: a test (and a reader) sees the final chart
        maintainAspectRatio: false,
        plugins: {legend: {display: false},
                  tooltip: {callbacks: {label: (item) => `${item.formattedValue}% passed`}}},
        scales: {
          y: {min: 0, max: 100, ticks: {color: muted, callback: (value) => `${value}%`}, grid: {color: grid}},
          x: {ticks: {color: muted}, grid: {display: false}},
        },
      },
    });
    canvas.dataset.drawn = "true";
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-points]:not([data-drawn])").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
