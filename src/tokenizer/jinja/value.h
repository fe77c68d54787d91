// tokenizer/jinja/value.h — the values of the Jinja interpreter, with Python's semantics as
// Jinja2 inherits them: truthiness, ==, ordering, str() and repr() (what {{ }} prints),
// json.dumps (the tojson filter), and conversion from JSON request data.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rotor::jinja {

class Value;
struct CallArgs;

// The deepest a list or dict may nest (JSON input and values a template builds). Python's
// own recursion limit is about 1000; the server takes JSON 64 levels deep. Printing, comparing
// and freeing a value recurse through it, so a deeper one could overflow the stack. A
// namespace holds no namespace, so no value holds itself and none is deeper than twice this.
inline constexpr int kMaxNesting = 256;
// The longest string (bytes) and list (items) one operation of a template may build: room for
// any prompt (a request body is at most 8 MiB), never gigabytes from `'x' * 10**12`.
inline constexpr uint64_t kMaxStringBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxListItems = uint64_t{1} << 20;
// Raise rotor::Error for a string or list past those sizes, before it is built.
void check_string_size(uint64_t bytes);
void check_list_size(uint64_t items);
// The longest message (bytes) a template's error carries after "chat template line N: " (see
// tokenizer/one_line.h): messages quote template text and input values, which may hold anything.
inline constexpr size_t kMaxMessageBytes = 300;
using List = std::vector<Value>;
using Function = std::function<Value(CallArgs&)>;

// An insertion-ordered dict with string keys (Python dicts from JSON and template literals).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(std::string key, Value v);
};

class Value {
 public:
  enum class Type { Undefined, None, Bool, Int, Float, String, List, Dict, Function };

  Value() = default;  // undefined
  static Value undefined(std::string message = {});
  static Value none();
  Value(bool b);
  Value(int64_t i);
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(double f);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  // Raise rotor::Error for a list or dict nested deeper than kMaxNesting.
  static Value list(List items, bool tuple = false);
  static Value dict(Dict d = {});
  // Jinja's namespace(): a dict whose attributes `set` may assign; raises if an item holds a
  // namespace.
  static Value namespace_of(Dict d);
  static Value function(std::string name, Function f);
  // Strings that are not valid UTF-8 (keys too) are repaired (tokenizer/utf8.h).
  static Value from_json(const nlohmann::ordered_json& j);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_none() const { return type_ == Type::None; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_float() const { return type_ == Type::Float; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }  // bool excluded
  bool is_string() const { return type_ == Type::String; }
  bool is_list() const { return type_ == Type::List; }
  bool is_tuple() const { return type_ == Type::List && tuple_; }
  bool is_dict() const { return type_ == Type::Dict; }
  bool is_namespace() const { return type_ == Type::Dict && namespace_; }
  bool is_function() const { return type_ == Type::Function; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_double() const { return type_ == Type::Float ? f_ : static_cast<double>(type_ == Type::Bool ? b_ : i_); }
  const std::string& as_string() const { return s_->bytes; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& mutable_dict() const { return *dict_; }  // namespaces only
  // Levels of lists and dicts in this value when it was built (0 for a scalar).
  int depth() const { return depth_; }
  // A namespace, or a list or dict with one inside.
  bool holds_namespace() const { return holds_namespace_; }
  const Function& as_function() const { return *fn_; }
  // Undefined: the error its use raises ("'x' is undefined"); function: its name.
  const std::string& name() const { return name_; }

  // Python's bool(x) (Jinja's Undefined is false).
  bool truthy() const;
  // Python's str(x) as Jinja prints it ("" for undefined, "None", "True", repr of containers).
  std::string str() const;
  // Python's repr(x).
  std::string repr() const;
  // json.dumps(x, ensure_ascii=False, indent, separators, sort_keys) as transformers' tojson.
  std::string to_json(int indent = -1, std::string item_sep = "", std::string key_sep = "", bool sort_keys = false) const;
  // A short type name for error messages ("str", "int", "list", "dict", "undefined", ...).
  std::string type_name() const;
  // Python's len(); nullopt for values without one. A string's (its code points) is counted
  // once and kept with the text, so an ASCII string shows itself by len() == size() at O(1).
  std::optional<int64_t> length() const;

 private:
  static Value from_json_within(const nlohmann::ordered_json& j, int levels);

  Type type_ = Type::Undefined;
  bool tuple_ = false;
  bool namespace_ = false;
  bool holds_namespace_ = false;
  bool b_ = false;
  int depth_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  // A string's bytes and their code points, counted when first asked (-1 before): shared by
  // the copies of the value, and by the threads rendering a template's string literals.
  struct Text {
    explicit Text(std::string b) : bytes(std::move(b)) {}
    std::string bytes;
    mutable std::atomic<int64_t> code_points{-1};
  };
  std::shared_ptr<const Text> s_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Function> fn_;
  std::string name_;
};

// Python's ==, and <, <=, >, >= (nullopt: the types cannot be ordered, a TypeError).
bool equals(const Value& a, const Value& b);
std::optional<int> compare(const Value& a, const Value& b);

// Jinja's message for a missing attribute: "'dict object' has no attribute 'x'".
std::string no_attribute(const Value& obj, const std::string& name);


// Python's float repr (shortest round trip: 0.1, 1e-05, 1e+16, 2.0).
std::string float_repr(double v);

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  std::string what;  // "filter 'join'" etc., for error messages

  // The i-th positional argument or the keyword `name`; `fallback` if neither was given.
  Value get(size_t i, std::string_view name, Value fallback = Value()) const;
  bool has(size_t i, std::string_view name) const;
  // Raises when more positional or other keyword arguments were given than `names` allows.
  void expect(std::initializer_list<std::string_view> names) const;
};

}  // namespace rotor::jinja
