// Draws the dashboard charts with ECharts (served from /static/vendor). The figures come from a
// <script type="application/json"> block the server renders, because the Content-Security-Policy
// allows no inline script. Charts use the SVG renderer: crisp when printed or zoomed, and their
// labels stay in the DOM where assistive technology and the browser tests can read them.
(function () {
  "use strict";

  var PALETTE = ["#0b4aa2", "#1f7ad8", "#13837a", "#d39b13", "#5b4bc4", "#c2410c", "#64748b"];
  var AXIS = { color: "#5b6577" };
  var GRID_LINE = { lineStyle: { color: "#e6ebf2" } };
  var charts = [];

  function number(value) {
    return Number(value).toLocaleString(document.documentElement.lang || "zh-CN");
  }

  // Bars keep one height whatever their number: the chart grows instead of spreading them.
  var BAR_ROW = 28;

  function fitHeight(element, data) {
    if (element.dataset.chartKind === "bars") {
      element.style.height = Math.max(160, data.values.length * BAR_ROW + 48) + "px";
    }
  }

  function horizontalBars(data) {
    // ECharts draws the first category at the bottom; reverse so the largest bar is on top.
    var names = data.names.slice().reverse();
    var values = data.values.slice().reverse();
    return {
      color: PALETTE,
      grid: { left: 8, right: 64, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: number },
      xAxis: { type: "value", axisLabel: AXIS, splitLine: GRID_LINE },
      yAxis: {
        type: "category",
        data: names,
        axisLabel: { color: "#1d2433", fontSize: 12 },
        axisTick: { show: false },
        axisLine: { lineStyle: { color: "#c9d3e1" } },
      },
      series: [
        {
          name: data.seriesName,
          type: "bar",
          data: values,
          barMaxWidth: 18,
          itemStyle: { borderRadius: [0, 3, 3, 0] },
          label: { show: true, position: "right", color: "#1d2433", formatter: function (p) { return number(p.value); } },
        },
      ],
    };
  }

  function donut(data) {
    return {
      color: ["#0b4aa2", "#1f7ad8", "#6aa5ea", "#13837a", "#b6c2d4", "#d39b13"],
      tooltip: {
        trigger: "item",
        formatter: function (p) { return p.name + "：" + number(p.value) + "（" + p.percent + "%）"; },
      },
      legend: { bottom: 0, icon: "circle", textStyle: { color: "#1d2433" } },
      series: [
        {
          name: data.seriesName,
          type: "pie",
          radius: ["38%", "60%"],
          center: ["50%", "45%"],
          percentPrecision: 1,
          avoidLabelOverlap: true,
          itemStyle: { borderColor: "#fff", borderWidth: 2 },
          label: { formatter: "{b}\n{d}%", color: "#1d2433", overflow: "none", lineHeight: 15 },
          labelLine: { length: 8, length2: 8 },
          data: data.names.map(function (name, i) { return { name: name, value: data.values[i] }; }),
        },
      ],
    };
  }

  var BUILDERS = { bars: horizontalBars, donut: donut };

  function draw(root) {
    if (typeof echarts === "undefined") {
      return;
    }
    root.querySelectorAll("[data-chart]").forEach(function (element) {
      var source = document.getElementById(element.dataset.chartSource);
      var build = BUILDERS[element.dataset.chartKind];
      if (!source || !build) {
        return;
      }
      var all = JSON.parse(source.textContent);
      var data = all[element.dataset.chart];
      if (!data || data.values.length === 0) {
        return;
      }
      var previous = echarts.getInstanceByDom(element);
      if (previous) {
        previous.dispose();
      }
      fitHeight(element, data);
      var chart = echarts.init(element, null, { renderer: "svg" });
      chart.setOption(build(data));
      element.dataset.chartReady = "true";
      charts.push(chart);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) {
      if (!chart.isDisposed()) {
        chart.resize();
      }
    });
  });
})();
