// Draws every figure of the page: <script type="application/json" data-chart="ID">
// holds a plotly figure (built by app/tools/console/charts.py) for the element #ID.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("script[data-chart]")) {
    const target = document.getElementById(el.dataset.chart);
    if (!target || typeof Plotly === "undefined") continue;
    const fig = JSON.parse(el.textContent);
    // responsive plots fill their container on a resize: give it the figure's height
    if (fig.layout && fig.layout.height) target.style.height = `${fig.layout.height}px`;
    Plotly.newPlot(target, fig.data, fig.layout, { displaylogo: false, responsive: true })
      .then(() => target.setAttribute("data-drawn", "1"));
  }
});
