// 总览's chart: each base's execution rate (spent ÷ received) beside its build time elapsed, on the page shown, drawn by the
// vendored ECharts from the figures the table shows (the JSON beside it), redrawn when htmx
// swaps the table for another filter or page.
(function () {
  function draw() {
    var data = document.getElementById("rates-data");
    var box = document.getElementById("rates-chart");
    if (!data || !box || typeof echarts === "undefined") return;
    var rows = JSON.parse(data.textContent);
    var old = echarts.getInstanceByDom(box);
    if (old) old.dispose();
    var chart = echarts.init(box, null, { renderer: "svg", locale: document.documentElement.lang === "en" ? "EN" : "ZH" });
    chart.setOption({
      animation: false,
      title: { text: box.dataset.title, textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v + "%"; } },
      grid: { left: 48, right: 16, top: 36, bottom: 56 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.base; }), axisLabel: { rotate: 30 } },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      legend: { bottom: 0, data: [box.dataset.rate, box.dataset.elapsed] },
      series: [
        { type: "bar", name: box.dataset.rate, data: rows.map(function (r) { return parseFloat(r.rate); }) },
        { type: "bar", name: box.dataset.elapsed, data: rows.map(function (r) { return r.elapsed === null ? null : parseFloat(r.elapsed); }) }
      ]
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
  document.addEventListener("ledger:refreshed", draw);
})();
