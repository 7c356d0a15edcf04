// Draws every figure of the page: <script type="application/json" data-chart="ID">
// holds a plotly figure (built by app/console/charts.py) for the element #ID.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("script[data-chart]")) {
    const target = document.getElementById(el.dataset.chart);
    if (!target || typeof Plotly === "undefined") continue;
    const fig = JSON.parse(el.textContent);
    Plotly.newPlot(target, fig.data, fig.layout, { displaylogo: false, responsive: true })
      .then(() => target.setAttribute("data-drawn", "1"));
  }
});
