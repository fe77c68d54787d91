// tokenizer/jinja/builtins.h — the filters, tests, methods and global functions the
// interpreter knows, by name (filters.cpp, tests.cpp, methods.cpp, globals.cpp). The parser
// checks names against these at load time, so a template that uses anything else fails when
// it is loaded, not when a request renders it.
#pragma once
#include <string>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace rotor::jinja {

class Interpreter;

using FilterFn = Value (*)(Interpreter& in, const Value& operand, CallArgs& args);
using TestFn = bool (*)(Interpreter& in, const Value& operand, CallArgs& args);

// nullptr for names that are not supported.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);
bool is_global_function(std::string_view name);
// Methods callable as x.name(...) on a str, list or dict (or loop.cycle).
bool is_method(std::string_view name);
// Methods that exist in Python but Hugging Face's immutable sandbox refuses (list.append ...).
bool is_unsafe_method(std::string_view name);

// Calls method `name` of obj (a bound method: x.name(...)); raises for unknown ones.
Value call_method(const Value& obj, const std::string& name, CallArgs& args);
// The bound method obj.name as a value (x.name without a call), or undefined.
Value method_value(const Value& obj, const std::string& name);
// Global functions: range, namespace, dict, raise_exception, strftime_now.
Value global_function(const std::string& name);

}  // namespace rotor::jinja
