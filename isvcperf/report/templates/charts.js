// Draws the report's charts with uPlot from the JSON that isvcperf/report/charts.py computed.
// All numbers come from Python; this only maps each chart description onto uPlot options.
// window.isvcperfCharts records what was drawn (and what failed) for the report's browser test.
(function () {
  "use strict";
  var drawn = [], failed = [];
  window.isvcperfCharts = { drawn: drawn, failed: failed };
  var source = document.getElementById("isvcperf-charts");
  if (!source || typeof uPlot === "undefined") return;
  var specs = JSON.parse(source.textContent);

  function trim(text) { return String(+text); }
  var formats = {
    ms: function (v) {
      if (v == null) return "";
      var a = Math.abs(v);
      return trim(a < 1 ? v.toFixed(3) : a < 10 ? v.toFixed(2) : a < 100 ? v.toFixed(1) : v.toFixed(0));
    },
    seconds: function (v) {
      if (v == null) return "";
      if (v < 120) return trim(v.toFixed(1)) + "s";
      var m = Math.floor(v / 60), s = Math.round(v % 60);
      return m < 120 ? m + "m" + (s ? s + "s" : "") : Math.floor(m / 60) + "h" + (m % 60 ? (m % 60) + "m" : "");
    },
    percentile: function (v) {
      if (v == null) return "";
      return "p" + trim((100 * (1 - 1 / v)).toFixed(4));
    },
    integer: function (v) { return v == null || v !== Math.round(v) ? "" : String(v); },
    plain: function (v) { return v == null ? "" : trim(v.toPrecision(4)); },
  };

  function axisValues(axis, decadesOnly) {
    var format = formats[axis.format] || formats.plain;
    return function (u, splits) {
      return splits.map(function (v) {
        if (decadesOnly && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) > 1e-9) return "";
        return format(v);
      });
    };
  }

  function marksPlugin(marks) {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.strokeStyle = "#8c959f";
          ctx.fillStyle = "#59636e";
          ctx.setLineDash([4, 4]);
          ctx.font = Math.round(11 * devicePixelRatio) + "px system-ui, sans-serif";
          marks.forEach(function (mark) {
            var x = Math.round(u.valToPos(mark.x, "x", true));
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.fillText(mark.label, x + 4, top + 12 * devicePixelRatio);
          });
          ctx.restore();
        },
      },
    };
  }

  function series(entry) {
    var out = { label: entry.label, stroke: entry.color, width: 2, scale: entry.scale || "y", spanGaps: false };
    if (entry.fill) out.fill = entry.color + "33";
    if (entry.kind === "step") out.paths = uPlot.paths.stepped({ align: 1 });
    out.points = { show: entry.kind === "points-line", size: 7 };
    out.value = function (u, v) { return (formats[entry.format] || formats.plain)(v); };
    return out;
  }

  function options(spec, width) {
    var logX = !!spec.x.log;
    var scales = { x: { time: false, distr: logX ? 3 : 1, log: 10 }, y: { auto: true } };
    var axes = [
      { label: spec.x.label, values: axisValues(spec.x, logX && spec.x.format === "percentile") },
      { label: spec.y.label, values: axisValues(spec.y, false), size: 60 },
    ];
    if (spec.y2) {
      scales.y2 = { auto: true };
      axes.push({ scale: "y2", side: 1, label: spec.y2.label, values: axisValues(spec.y2, false), grid: { show: false }, size: 60 });
    }
    var xSeries = { label: spec.x.label, value: function (u, v) { return (formats[spec.x.format] || formats.plain)(v); } };
    return {
      width: width,
      height: 280,
      scales: scales,
      axes: axes,
      series: [xSeries].concat(spec.series.map(function (entry) {
        entry.format = entry.scale === "y2" ? (spec.y2.format || "plain") : (spec.y.format || "plain");
        return series(entry);
      })),
      cursor: { drag: { x: true, y: false } },
      plugins: spec.marks ? [marksPlugin(spec.marks)] : [],
    };
  }

  var plots = [];
  specs.forEach(function (spec) {
    var figure = document.querySelector('figure[data-chart="' + spec.id + '"] .plot');
    if (!figure) { failed.push(spec.id + ": no element"); return; }
    try {
      var width = Math.max(320, figure.clientWidth || 800);
      plots.push([new uPlot(options(spec, width), spec.data, figure), figure]);
      drawn.push(spec.id);
    } catch (err) {
      failed.push(spec.id + ": " + err);
      figure.textContent = "This chart could not be drawn: " + err;
    }
  });

  window.addEventListener("resize", function () {
    plots.forEach(function (pair) {
      pair[0].setSize({ width: Math.max(320, pair[1].clientWidth), height: 280 });
    });
  });
})();
