// The console's one script (no inline scripts: the page's CSP allows files from this origin only).
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  // On a narrow screen (a tablet held upright) the menu waits behind the 菜单 button: the class on <html>
  // says a script runs, so without one the menu simply stays open above the page.
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#menu-toggle") : null;
    if (!button) return;
    var menu = document.getElementById("side-menu");
    if (!menu) return;
    var open = menu.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // Every htmx request carries the session's CSRF token (boosted forms also carry the hidden field).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  // A refused or failed htmx request says so instead of doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var box = document.createElement("div");
    box.className = "flash error";
    box.setAttribute("role", "alert");
    box.textContent = "请求未成功（" + xhr.status + "）：" + (xhr.status === 403 ? "无权操作或页面已过期，请刷新" : "请稍后重试");
    var main = document.getElementById("main");
    if (main) main.prepend(box);
  });

  // Countdown clocks: <span class="clock" data-due="ISO">; red once the deadline has passed.
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".clock[data-due]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.due) - now) / 1000);
      var late = left < 0;
      var s = Math.abs(left);
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      var text = h + ":" + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
      el.textContent = late ? "已超时 " + text : "剩余 " + text;
      el.classList.toggle("late", late);
    });
  }

  // Charts: <div class="chart" data-chart='{"type":"line","x":[...],"series":[{"name":..,"data":[..]}]}'>.
  // A page reached through an htmx-boosted link keeps the old <head>: its ECharts <script> never loads.
  // Load it here (same origin, as the CSP allows) once, then draw.
  function withECharts(then) {
    if (typeof window.echarts !== "undefined") return then();
    var script = document.getElementById("echarts-loader");
    if (!script) {
      var htmx = document.querySelector('script[src*="/static/vendor/htmx.min.js"]');
      var version = htmx && htmx.src.indexOf("?") >= 0 ? htmx.src.slice(htmx.src.indexOf("?")) : "";
      script = document.createElement("script");
      script.id = "echarts-loader";
      script.src = "/static/vendor/echarts.min.js" + version;
      document.head.appendChild(script);
    }
    script.addEventListener("load", then);
  }

  function drawCharts(root) {
    if (!root.querySelector(".chart[data-chart]")) return;
    if (typeof window.echarts === "undefined") {
      withECharts(function () { drawCharts(document); });
      return;
    }
    root.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var spec = JSON.parse(el.dataset.chart);
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      var option = {
        tooltip: { trigger: spec.type === "pie" ? "item" : "axis" },
        legend: { top: 0 },
        grid: { left: 48, right: 16, top: 36, bottom: 28 },
        animation: false
      };
      if (spec.type === "pie") {
        option.series = [{ type: "pie", radius: "65%", data: spec.series[0].data }];
      } else if (spec.type === "funnel") {
        option.series = [{ type: "funnel", left: "10%", width: "80%", data: spec.series[0].data }];
      } else {
        option.xAxis = { type: "category", data: spec.x };
        option.yAxis = { type: "value" };
        option.series = spec.series.map(function (s) {
          return { name: s.name, type: spec.type, data: s.data };
        });
      }
      chart.setOption(option);
      el.dataset.drawn = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  function ready(root) {
    tick();
    drawCharts(root || document);
  }
  document.addEventListener("DOMContentLoaded", function () {
    ready(document);
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSettle", function (event) { ready(event.target); });
})();
