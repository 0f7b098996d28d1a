// The dashboard's charts (Chart.js, served from static/vendor), drawn from the JSON the page
// embeds (#dash-chart-data), and drawn again when HTMX swaps in another period.
(function () {
  "use strict";

  const COLORS = ["#2f6fde", "#1f9d55", "#d97706", "#c2410c", "#7c3aed", "#64748b", "#0e7490", "#be185d"];
  const STATUS_COLORS = ["#1f9d55", "#d97706", "#c2410c", "#64748b", "#2f6fde", "#94a3b8"];

  const usd = (value) => "$" + Number(value).toLocaleString(undefined, {maximumFractionDigits: 4});

  const configs = {
    days: (data) => ({
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          {label: "Cost (USD)", data: data.cost, backgroundColor: COLORS[0], yAxisID: "cost"},
          {label: "Tokens", data: data.tokens, type: "line", borderColor: COLORS[2], backgroundColor: COLORS[2],
           yAxisID: "tokens", tension: 0.2, pointRadius: 2},
        ],
      },
      options: {scales: {cost: {position: "left", beginAtZero: true, ticks: {callback: usd}},
                         tokens: {position: "right", beginAtZero: true, grid: {drawOnChartArea: false}}}},
    }),
    statuses: (data) => ({
      type: "doughnut",
      data: {labels: data.labels, datasets: [{label: "Runs", data: data.runs, backgroundColor: STATUS_COLORS}]},
      options: {plugins: {legend: {position: "right"}}},
    }),
    agents: (data) => costBars(data),
    models: (data) => costBars(data),
  };

  function costBars(data) {
    return {
      type: "bar",
      data: {labels: data.labels, datasets: [{label: "Cost (USD)", data: data.cost, backgroundColor: COLORS}]},
      options: {indexAxis: "y", plugins: {legend: {display: false}}, scales: {x: {beginAtZero: true, ticks: {callback: usd}}}},
    };
  }

  function draw() {
    const source = document.getElementById("dash-chart-data");
    if (!source || typeof Chart === "undefined") return;
    const series = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      const config = configs[canvas.dataset.chart](series[canvas.dataset.chart]);
      config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false}, config.options);
      new Chart(canvas, config);
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
