// loadgen/svg_chart.h — small static SVG charts for the HTML report: histograms with marker
// lines, line charts, and horizontal interval bars. Plain SVG (hover titles, no script), so a
// browser draws them with no network and nothing to execute.
#pragma once
#include <string>
#include <vector>

namespace rotor::loadgen {

// Text made safe for HTML/SVG content and attribute values.
std::string html_escape(std::string_view s);

struct Marker {
  std::string label;  // "mean", "p99", ...
  double x = 0;
};

// A histogram of `values` (bins over their range; when a few outliers would squash the rest,
// values above p99 are left out and the chart says so).
std::string histogram_svg(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                          std::vector<double> values, const std::string& color, const std::vector<Marker>& markers);

struct Series {
  std::string name, color;
  std::vector<double> x, y;
};
std::string line_svg(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                     const std::vector<Series>& series);

// One horizontal bar per row, made of segments [from, to) with a colour and a hover title.
struct Segment {
  double from = 0, to = 0;
  std::string color, title;
};
std::string interval_bars_svg(const std::string& title, const std::string& xlabel,
                              const std::vector<std::vector<Segment>>& rows, const std::string& note);

}  // namespace rotor::loadgen
