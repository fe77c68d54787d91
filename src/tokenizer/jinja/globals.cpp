// tokenizer/jinja/globals.cpp — the global functions a template may call: range, namespace,
// dict, raise_exception, strftime_now.
#include <ctime>

#include "core/check.h"
#include "tokenizer/jinja/arguments.h"
#include "tokenizer/jinja/builtins.h"

namespace rotor::jinja {
namespace {

Value g_range(CallArgs& a) {
  ROTOR_CHECK(!a.args.empty() && a.args.size() <= 3 && a.kwargs.empty(), "range expected 1 to 3 integer arguments");
  int64_t start = 0, stop, step = 1;
  if (a.args.size() == 1) {
    stop = require_int(a.args[0], "range");
  } else {
    start = require_int(a.args[0], "range");
    stop = require_int(a.args[1], "range");
    if (a.args.size() == 3) step = require_int(a.args[2], "range");
  }
  ROTOR_CHECK(step != 0, "range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    ROTOR_CHECK(out.size() < 100000, "range too big (the sandbox allows 100000 items)");
    out.emplace_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;  // the next item would be past int64: none is
  }
  return Value::list(std::move(out));
}

Value g_namespace(CallArgs& a) {
  Dict d;
  for (const Value& arg : a.args) {
    ROTOR_CHECK(arg.is_dict(), "namespace() takes a dict or keyword arguments");
    for (const auto& kv : arg.as_dict().items) d.set(kv.first, kv.second);
  }
  for (const auto& [k, v] : a.kwargs) d.set(k, v);
  return Value::namespace_of(std::move(d));
}

Value g_dict(CallArgs& a) {
  Dict d;
  for (const Value& arg : a.args) {
    ROTOR_CHECK(arg.is_dict(), "dict() takes a dict or keyword arguments");
    for (const auto& kv : arg.as_dict().items) d.set(kv.first, kv.second);
  }
  for (const auto& [k, v] : a.kwargs) d.set(k, v);
  return Value::dict(std::move(d));
}

Value g_raise_exception(CallArgs& a) { ROTOR_FAIL("{}", a.get(0, "message", Value("")).str()); }

Value g_strftime_now(CallArgs& a) {
  const std::string fmt = require_string(a.get(0, "format"), "strftime_now");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[512];
  const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return Value(std::string(buf, n));
}

}  // namespace

bool is_global_function(std::string_view name) {
  return name == "range" || name == "namespace" || name == "dict" || name == "raise_exception" || name == "strftime_now";
}

Value global_function(const std::string& name) {
  if (name == "range") return Value::function(name, g_range);
  if (name == "namespace") return Value::function(name, g_namespace);
  if (name == "dict") return Value::function(name, g_dict);
  if (name == "raise_exception") return Value::function(name, g_raise_exception);
  if (name == "strftime_now") return Value::function(name, g_strftime_now);
  return Value::undefined("'" + name + "' is undefined");
}

}  // namespace rotor::jinja
