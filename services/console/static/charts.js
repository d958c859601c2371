// Draws the page's charts from JSON data blocks (no inline script: the CSP allows none).
// Each <div class="chart" data-chart="ID"> takes its figure from <script type="application/json" id="ID">.
(function () {
  "use strict";
  function draw(el) {
    var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    var config = {responsive: true, displaylogo: false, displayModeBar: false};
    var layout = {margin: {t: 40, r: 10, b: 120, l: 70}, title: {text: spec.title || ""},
                  font: {family: "inherit", size: 14, color: "#1a1a1a"}};
    var data;
    if (spec.kind === "bar") {
      data = [{type: "bar", x: spec.x, y: spec.y,
               marker: {color: spec.y.map(function (v) { return v < 0 ? "#b00020" : "#1b5e20"; })}}];
    } else if (spec.kind === "lines") {
      data = spec.series.map(function (s) { return {type: "scatter", mode: "lines+markers", name: s.name, x: s.x, y: s.y}; });
    } else if (spec.kind === "map") {
      data = [{type: "choroplethmap", geojson: spec.geojson, locations: spec.locations,
               z: spec.z, featureidkey: "properties.code", text: spec.text,
               hovertemplate: "%{text}<extra></extra>", colorscale: "YlOrRd", reversescale: true,
               marker: {line: {width: 0.5, color: "#444"}},
               colorbar: {title: {text: spec.legend || ""}}}];
      if (spec.suppressed && spec.suppressed.locations.length) {
        data.push({type: "choroplethmap", geojson: spec.geojson, locations: spec.suppressed.locations,
                   z: spec.suppressed.locations.map(function () { return 0; }),
                   featureidkey: "properties.code", text: spec.suppressed.text,
                   hovertemplate: "%{text}<extra></extra>", showscale: false,
                   colorscale: [[0, "#bdbdbd"], [1, "#bdbdbd"]], marker: {line: {width: 0.5, color: "#444"}}});
      }
      layout.map = {style: "white-bg", center: spec.center, zoom: spec.zoom || 9};
      layout.margin = {t: 40, r: 10, b: 10, l: 10};
    }
    window.Plotly.newPlot(el, data, layout, config);
  }
  function drawAll() {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      try { draw(el); el.dataset.drawn = "yes"; } catch (e) { el.dataset.drawn = "failed"; }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", drawAll); }
  else { drawAll(); }
})();
