// Charts of the region/industry aggregates (ECharts from /static/vendor). The figures come from
// the <script type="application/json" id="agg-charts"> block: the CSP allows no inline script.
(function () {
  "use strict";

  var PALETTE = ["#0b4aa2", "#c2410c", "#13837a", "#d39b13", "#5b4bc4", "#1f7ad8", "#64748b"];
  var AXIS = { color: "#5b6577" };
  var GRID_LINE = { lineStyle: { color: "#e6ebf2" } };
  var charts = [];

  function number(value) {
    return Number(value).toLocaleString(document.documentElement.lang || "zh-CN");
  }

  function bars(spec) {
    var rows = spec.series.slice().sort(function (a, b) { return a.value - b.value; });
    return {
      color: PALETTE,
      grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: number },
      xAxis: { type: "value", axisLabel: AXIS, splitLine: GRID_LINE },
      yAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: { color: "#1d2433" }, axisTick: { show: false } },
      series: [{ type: "bar", data: rows.map(function (r) { return r.value; }), barMaxWidth: 16,
        label: { show: true, position: "right", formatter: function (p) { return number(p.value); } } }],
    };
  }

  function barsShare(spec) {
    var names = spec.series.map(function (r) { return r.name; });
    var share = {};
    spec.share.forEach(function (r) { share[r.name] = r.value / 100; });
    return {
      color: PALETTE,
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: names, axisLabel: { color: "#1d2433", rotate: 40, interval: 0, fontSize: 10 } },
      yAxis: [
        { type: "value", axisLabel: AXIS, splitLine: GRID_LINE },
        { type: "value", axisLabel: { color: "#5b6577", formatter: "{value}%" }, splitLine: { show: false } },
      ],
      series: [
        { name: document.documentElement.lang === "en" ? "Enterprises" : "企业数", type: "bar", data: spec.series.map(function (r) { return r.value; }) },
        { name: document.documentElement.lang === "en" ? "On dishonesty list (%)" : "失信名单占比(%)", type: "line", yAxisIndex: 1,
          data: names.map(function (n) { return share[n] || 0; }) },
      ],
    };
  }

  function pie(spec) {
    return {
      color: ["#b6c2d4", "#6aa5ea", "#1f7ad8", "#0b4aa2", "#13837a", "#d39b13"],
      tooltip: { trigger: "item", formatter: function (p) { return p.name + "：" + number(p.value) + "（" + p.percent + "%）"; } },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["40%", "68%"], center: ["50%", "45%"], data: spec.series,
        label: { formatter: "{b}\n{d}%" } }],
    };
  }

  function draw() {
    var source = document.getElementById("agg-charts");
    if (!source || typeof echarts === "undefined") { return; }
    var all = JSON.parse(source.textContent);
    document.querySelectorAll("[data-agg-chart]").forEach(function (element) {
      var spec = all[element.dataset.aggChart];
      if (!spec || !spec.series.length) { return; }
      var option = spec.kind === "pie" ? pie(spec) : spec.kind === "bars_share" ? barsShare(spec) : bars(spec);
      element.style.height = (spec.kind === "bars" ? Math.max(200, spec.series.length * 26 + 40) : 340) + "px";
      var chart = echarts.init(element, null, { renderer: "svg" });
      chart.setOption(option);
      charts.push(chart);
    });
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
