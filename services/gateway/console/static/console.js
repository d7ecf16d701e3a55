// Draws each .chart from its data-spec (the figures the gateway rendered into the page): no other source.
(function () {
  "use strict";
  function draw() {
    var charts = document.querySelectorAll(".chart[data-spec]");
    charts.forEach(function (el) {
      var spec = JSON.parse(el.getAttribute("data-spec"));
      var layout = Object.assign(
        {
          margin: { l: 60, r: 60, t: 10, b: 50 },
          legend: { orientation: "h", y: 1.12 },
          font: { family: "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif", size: 12 },
          separators: ".,",
          paper_bgcolor: "#fff",
          plot_bgcolor: "#fff"
        },
        spec.layout || {}
      );
      window.Plotly.newPlot(el, spec.data, layout, { displayModeBar: false, responsive: true }).then(function () {
        el.setAttribute("data-rendered", "1");
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
