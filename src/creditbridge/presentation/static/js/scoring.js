// Draws the credit-evaluation charts (validation report, score history, distribution). The
// ECharts options are built by the server into a <script type="application/json"
// id="scoring-charts"> block, because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("scoring-charts");
    if (!source || typeof echarts === "undefined") return;
    var options = JSON.parse(source.textContent || "{}");
    var charts = [];
    document.querySelectorAll("[data-scoring-chart]").forEach(function (element) {
      var option = options[element.dataset.scoringChart];
      if (!option) return;
      // Heights come as data attributes: the Content-Security-Policy forbids style attributes.
      element.style.height = (element.dataset.height || "300") + "px";
      if (element.dataset.drawn) return;
      element.dataset.drawn = "1";
      var chart = echarts.init(element, null, { renderer: "svg" });
      chart.setOption(option);
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  document.addEventListener("htmx:afterSettle", draw);
})();
