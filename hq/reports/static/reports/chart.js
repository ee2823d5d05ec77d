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
