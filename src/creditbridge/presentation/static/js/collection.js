// Draws the collection dashboard's charts with ECharts (served from /static/vendor). The figures
// come from the <script type="application/json" id="collection-charts"> block the server renders,
// because the Content-Security-Policy allows no inline script. Values are percentages; a missing
// figure (not measured) is null and drawn as a gap. SVG renderer, as in charts.js.
(function () {
  "use strict";

  var BLUE = "#0b4aa2";
  var TEAL = "#13837a";
  var GOLD = "#d39b13";
  var AXIS = { color: "#5b6577" };
  var GRID_LINE = { lineStyle: { color: "#e6ebf2" } };
  var BAR_ROW = 28;
  var charts = [];

  function pct(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(1) + "%";
  }

  function bars(data) {
    var names = data.names.slice().reverse();
    var series = [{ name: data.seriesName, key: "values", color: BLUE }];
    if (data.coverage) {
      series.push({ name: "覆盖率 %", key: "coverage", color: TEAL });
      series.push({ name: "完整率 %", key: "completeness", color: GOLD });
    }
    return {
      grid: { left: 8, right: 56, top: series.length > 1 ? 28 : 8, bottom: 8, containLabel: true },
      legend: series.length > 1 ? { top: 0 } : undefined,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: pct },
      xAxis: { type: "value", max: 100, axisLabel: AXIS, splitLine: GRID_LINE },
      yAxis: { type: "category", data: names, axisLabel: { color: "#1d2433", fontSize: 12 }, axisTick: { show: false } },
      series: series.map(function (s) {
        return {
          name: s.name,
          type: "bar",
          data: data[s.key].slice().reverse(),
          barMaxWidth: 14,
          itemStyle: { color: s.color, borderRadius: [0, 3, 3, 0] },
          label: series.length > 1 ? { show: false } : { show: true, position: "right", color: "#1d2433", formatter: function (p) { return pct(p.value); } },
        };
      }),
    };
  }

  function line(data) {
    return {
      grid: { left: 8, right: 24, top: 24, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: pct },
      xAxis: { type: "category", data: data.names, axisLabel: AXIS },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: AXIS, splitLine: GRID_LINE },
      series: [
        {
          name: data.seriesName,
          type: "line",
          data: data.values,
          itemStyle: { color: BLUE },
          label: { show: true, formatter: function (p) { return pct(p.value); } },
          markLine: { symbol: "none", data: [{ yAxis: data.target, name: "目标" }], lineStyle: { color: GOLD, type: "dashed" }, label: { formatter: "目标 " + data.target + "%" } },
        },
      ],
    };
  }

  var BUILDERS = { bars: bars, line: line };

  function draw() {
    var source = document.getElementById("collection-charts");
    if (!source || typeof echarts === "undefined") {
      return;
    }
    var all = JSON.parse(source.textContent);
    document.querySelectorAll("[data-collection-chart]").forEach(function (element) {
      var data = all[element.dataset.collectionChart];
      var build = BUILDERS[element.dataset.chartKind];
      if (!data || !build || data.values.length === 0) {
        return;
      }
      if (element.dataset.chartKind === "bars") {
        var rows = data.coverage ? 3 : 1;
        element.style.height = Math.max(160, data.values.length * BAR_ROW * (rows > 1 ? 1.6 : 1) + 56) + "px";
      }
      var chart = echarts.init(element, null, { renderer: "svg" });
      chart.setOption(build(data));
      element.dataset.chartReady = "true";
      charts.push(chart);
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) {
      if (!chart.isDisposed()) {
        chart.resize();
      }
    });
  });
})();
