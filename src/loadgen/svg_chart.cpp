// loadgen/svg_chart.cpp — the SVG charts of the HTML report (see svg_chart.h): a plot frame with
// "nice" ticks, grid and labels, and the three chart kinds drawn into it.
#include "loadgen/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "loadgen/metrics.h"

namespace rotor::loadgen {

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

namespace {

constexpr int kW = 640, kH = 320, kLeft = 64, kRight = 20, kTop = 40, kBottom = 48;

std::string fmt_num(double v) {
  if (v == 0) return "0";
  return fmt::format("{:.4g}", v);
}

// Round tick positions covering [lo, hi], about `target` of them.
std::vector<double> ticks(double lo, double hi, int target = 5) {
  const double span = hi > lo ? hi - lo : 1.0;
  const double raw = span / target, mag = std::pow(10.0, std::floor(std::log10(raw))), f = raw / mag;
  const double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}

struct Frame {
  double x0, x1, y0, y1;
  int h = kH;
  double sx(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kW - kLeft - kRight); }
  double sy(double y) const { return h - kBottom - (y - y0) / (y1 - y0) * (h - kTop - kBottom); }
};

std::string open_svg(const std::string& title, const std::string& subtitle, int h = kH) {
  std::string o = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" "
      "role=\"img\"><title>{2}</title><rect width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>"
      "<text x=\"{3}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{2}</text>",
      kW, h, html_escape(title), kLeft);
  if (!subtitle.empty())
    o += fmt::format("<text x=\"{}\" y=\"32\" font-size=\"11\" fill=\"#555\">{}</text>", kLeft, html_escape(subtitle));
  return o;
}

std::string axes(const Frame& f, const std::string& xlabel, const std::string& ylabel, bool y_ticks = true) {
  std::string o;
  const double bottom = f.h - kBottom, right = kW - kRight;
  if (y_ticks)
    for (double t : ticks(f.y0, f.y1)) {
      const double y = f.sy(t);
      o += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>", kLeft, right, y, y);
      o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\">{}</text>", kLeft - 4, y + 3,
                       fmt_num(t));
    }
  for (double t : ticks(f.x0, f.x1, 6)) {
    const double x = f.sx(t);
    o += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#999\"/>", x, x, bottom, bottom + 4);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>", x, bottom + 15,
                     fmt_num(t));
  }
  o += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#333\"/>", kLeft, right, bottom);
  o += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#333\"/>", kLeft, kTop, bottom);
  o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>", (kLeft + right) / 2,
                   f.h - 10, html_escape(xlabel));
  if (!ylabel.empty())
    o += fmt::format(
        "<text x=\"14\" y=\"{0}\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 14 {0})\">{1}</text>",
        (kTop + bottom) / 2, html_escape(ylabel));
  return o;
}

std::string empty_chart(const std::string& title) {
  return open_svg(title, "") +
         fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#777\">no data</text></svg>",
                     kW / 2, kH / 2);
}

}  // namespace

std::string histogram_svg(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                          std::vector<double> v, const std::string& color, const std::vector<Marker>& markers) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return empty_chart(title);
  std::sort(v.begin(), v.end());
  double lo = v.front(), hi = v.back();
  std::string subtitle = fmt::format("{} values", v.size());
  const double p99 = percentile_nearest_rank(v, 99);
  if (v.size() >= 20 && p99 > lo && hi - lo > 4 * (p99 - lo)) {
    const size_t above = static_cast<size_t>(v.end() - std::upper_bound(v.begin(), v.end(), p99));
    subtitle += fmt::format("; {} above p99 = {} not drawn (max {})", above, fmt_num(p99), fmt_num(hi));
    hi = p99;
  }
  if (hi <= lo) {
    const double pad = std::max(std::abs(lo) * 0.05, 1e-6);
    lo -= pad;
    hi += pad;
  }
  const size_t nb = std::clamp<size_t>(static_cast<size_t>(std::ceil(std::sqrt(static_cast<double>(v.size())))), 5, 50);
  std::vector<size_t> count(nb, 0);
  for (double x : v) {
    if (x > hi) continue;
    ++count[std::min(nb - 1, static_cast<size_t>((x - lo) / (hi - lo) * static_cast<double>(nb)))];
  }
  const size_t top = *std::max_element(count.begin(), count.end());
  Frame f{lo, hi, 0, static_cast<double>(top) * 1.1 + 1e-9};
  std::string o = open_svg(title, subtitle) + axes(f, xlabel, ylabel);
  const double bw = (hi - lo) / static_cast<double>(nb);
  for (size_t i = 0; i < nb; ++i) {
    if (count[i] == 0) continue;
    const double a = lo + bw * static_cast<double>(i), x0 = f.sx(a), x1 = f.sx(a + bw), y = f.sy(static_cast<double>(count[i]));
    o += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{} – {}: {}</title></rect>",
        x0 + 0.5, y, std::max(x1 - x0 - 1.0, 0.5), f.sy(0) - y, color, fmt_num(a), fmt_num(a + bw), count[i]);
  }
  int k = 0;
  for (const Marker& m : markers) {
    if (!(m.x >= lo && m.x <= hi)) continue;
    const double x = f.sx(m.x);
    o += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#222\" stroke-dasharray=\"4 3\"/>",
                     x, kTop, kH - kBottom);
    const bool left = x > kLeft + 0.75 * (kW - kLeft - kRight);  // near the right edge: label on the left
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" fill=\"#222\" text-anchor=\"{}\">{} {}</text>",
                     left ? x - 3 : x + 3, kTop + 10 + 11 * k++, left ? "end" : "start", html_escape(m.label),
                     fmt_num(m.x));
  }
  return o + "</svg>";
}

std::string line_svg(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                     const std::vector<Series>& series) {
  double x0 = INFINITY, x1 = -INFINITY, y1 = 0;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y1 = std::max(y1, s.y[i]);
    }
  if (!(x1 > x0)) return empty_chart(title);
  Frame f{x0, x1, 0, y1 > 0 ? y1 * 1.1 : 1};
  std::string o = open_svg(title, "") + axes(f, xlabel, ylabel);
  int k = 0;
  for (const Series& s : series) {
    std::string pts;
    for (size_t i = 0; i < s.x.size(); ++i) pts += fmt::format("{:.1f},{:.1f} ", f.sx(s.x[i]), f.sy(s.y[i]));
    o += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\"><title>{}</title></polyline>",
                     pts, s.color, html_escape(s.name));
    const int ly = kTop + 4 + 14 * k++;
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{}\"/>", kW - kRight - 150, ly, s.color);
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>", kW - kRight - 132, ly + 5, html_escape(s.name));
  }
  return o + "</svg>";
}

std::string interval_bars_svg(const std::string& title, const std::string& xlabel,
                              const std::vector<std::vector<Segment>>& rows, const std::string& note) {
  double x0 = INFINITY, x1 = -INFINITY;
  for (const auto& row : rows)
    for (const Segment& s : row) {
      x0 = std::min(x0, s.from);
      x1 = std::max(x1, s.to);
    }
  if (!(x1 > x0)) return empty_chart(title);
  const int h = std::clamp(kTop + kBottom + static_cast<int>(rows.size()) * 4, 200, 640);
  Frame f{x0, x1, 0, static_cast<double>(rows.size()), h};
  std::string o = open_svg(title, note, h) + axes(f, xlabel, "requests (by start)", false);
  const double rh = std::max(1.0, (f.sy(0) - f.sy(1)) * 0.8);
  for (size_t r = 0; r < rows.size(); ++r)
    for (const Segment& s : rows[r]) {
      const double a = f.sx(s.from), b = f.sx(s.to);
      o += fmt::format(
          "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"><title>{}</title></rect>", a,
          f.sy(static_cast<double>(r) + 1), std::max(b - a, 0.5), rh, s.color, html_escape(s.title));
    }
  return o + "</svg>";
}

}  // namespace rotor::loadgen
