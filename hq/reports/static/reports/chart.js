// The report's bar chart, drawn with the ECharts the console serves itself.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("chart");
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  if (!box || typeof echarts === "undefined" || !data.labels.length) {
    if (box) box.style.display = "none";
    return;
  }
  var chart = echarts.init(box, null, {renderer: "canvas"});
  chart.setOption({
    animation: false,  // drawn at once: a print or a screenshot shows every point
    tooltip: {trigger: "axis"},
    legend: {data: ["好评率%", "差评率%"]},
    grid: {left: 48, right: 24, bottom: 90},
    xAxis: {type: "category", data: data.labels, axisLabel: {interval: 0, rotate: 30}},
    yAxis: {type: "value", max: 100},
    series: [{name: "好评率%", type: "bar", data: data.good, itemStyle: {color: "#217a3c"}},
             {name: "差评率%", type: "bar", data: data.bad, itemStyle: {color: "#c0262d"}}]
  });
  window.addEventListener("resize", function () { chart.resize(); });
});

// Month over month: the same two rates as lines; a month without ratings is a gap.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("trend");
  var data = JSON.parse(document.getElementById("trend-data").textContent);
  if (!box || typeof echarts === "undefined" || !data.rated.some(function (n) { return n > 0; })) {
    if (box) box.style.display = "none";
    return;
  }
  var chart = echarts.init(box, null, {renderer: "canvas"});
  chart.setOption({
    animation: false,  // drawn at once: a print or a screenshot shows every point
    tooltip: {trigger: "axis"},
    legend: {data: ["好评率%", "差评率%"]},
    grid: {left: 48, right: 24, bottom: 40},
    xAxis: {type: "category", data: data.labels},
    yAxis: {type: "value", max: 100},
    series: [{name: "好评率%", type: "line", data: data.good, itemStyle: {color: "#217a3c"}},
             {name: "差评率%", type: "line", data: data.bad, itemStyle: {color: "#c0262d"}}]
  });
  window.addEventListener("resize", function () { chart.resize(); });
});
