// The report's charts, drawn with the ECharts the console serves itself.
function drawChart(boxId, dataId, hasData, option) {
  var box = document.getElementById(boxId);
  var data = JSON.parse(document.getElementById(dataId).textContent);
  if (!box || typeof echarts === "undefined" || !hasData(data)) {
    if (box) box.style.display = "none";
    return;
  }
  var chart = echarts.init(box, null, {renderer: "canvas"});
  chart.setOption(Object.assign({
    animation: false,  // drawn at once: a print or a screenshot shows every point
    tooltip: {trigger: "axis"},
    legend: {data: ["好评率%", "差评率%"]},
    yAxis: {type: "value", max: 100}
  }, option(data)));
  window.addEventListener("resize", function () { chart.resize(); });
}

document.addEventListener("DOMContentLoaded", function () {
  // By the chosen dimension: the two rates as bars.
  drawChart("chart", "chart-data", function (d) { return d.labels.length > 0; }, function (d) {
    return {
      grid: {left: 48, right: 24, bottom: 90},
      xAxis: {type: "category", data: d.labels, axisLabel: {interval: 0, rotate: 30}},
      series: [{name: "好评率%", type: "bar", data: d.good, itemStyle: {color: "#217a3c"}},
               {name: "差评率%", type: "bar", data: d.bad, itemStyle: {color: "#c0262d"}}]
    };
  });
  // Month over month: the same rates as lines; a month without ratings is a gap.
  drawChart("trend", "trend-data",
            function (d) { return d.rated.some(function (n) { return n > 0; }); },
            function (d) {
    return {
      grid: {left: 48, right: 24, bottom: 40},
      xAxis: {type: "category", data: d.labels},
      series: [{name: "好评率%", type: "line", data: d.good, itemStyle: {color: "#217a3c"}},
               {name: "差评率%", type: "line", data: d.bad, itemStyle: {color: "#c0262d"}}]
    };
  });
});
