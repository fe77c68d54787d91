"""Golden cases for the Jinja interpreter and the chat templates, from transformers (which
brings jinja2): pip install transformers. Run from the repository root:

  python3 tests/tokenizer/gen_chat_template_cases.py

Writes tests/tokenizer/data/
  jinja_cases.json        [{"name", "template", "vars", "expected"}] or {..., "error": true}:
                          templates rendered by transformers' own compiled environment
                          (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, its tojson,
                          raise_exception, namespace, dict), covering the Jinja that chat
                          templates use
  qwen3_chat_cases.json   [{"messages", "tools", "add_generation_prompt", "kwargs", "rendered"}]:
                          the Qwen3 template through AutoTokenizer.apply_chat_template, on
                          conversations beyond ../shared/fixtures/text/chat_template_cases.json
"""
import json, os
from transformers import AutoTokenizer
from transformers.utils.chat_template_utils import _compile_jinja_template

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
SHARED = os.environ.get("ROTOR_SHARED", os.path.join(HERE, "..", "..", "..", "shared"))

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi 🙂"},
        {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]
TOOLS = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
    "type": "object", "properties": {"x": {"type": "number", "enum": [1, 2.5, -3e-7, 1e22]}, "é": {"type": "string"}},
    "required": ["x"], "additionalProperties": False, "default": None}}}]

# (name, template, vars). Whitespace control, scoping and Python semantics are the point.
JINJA = [
    ("text", "plain text\n", {}),
    ("trailing_newline_kept_once", "a\n\n", {}),
    ("crlf", "a\r\nb\rc{{ 'x' }}\r\n", {}),
    ("print_types", "{{ 1 }}|{{ 1.5 }}|{{ 2.0 }}|{{ 1e20 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}|{{ true }}|{{ none }}|{{ 'a' }}|{{ [1, 'b', none, false] }}|{{ {'k': [1.0, {'z': 'q\"'}]} }}|{{ (1,) }}|{{ (1, 2) }}|{{ -0.0 }}|{{ 123456789012345678 }}", {}),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ -(3) }} {{ 10 - 2 - 3 }}", {}),
    ("concat", "{{ 'a' ~ 1 ~ none ~ true ~ [1] }}{{ 'b' ~ 2 * 3 }}", {}),
    ("concat_binds_tighter_than_plus_error", "{{ 1 ~ 2 + 3 }}", {}),
    ("compare", "{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' != 'b' }}{{ none == none }}{{ 2 in [1, 2] }}{{ 'b' in 'abc' }}{{ 'k' in {'k': 1} }}{{ 3 not in [1] }}", {}),
    ("logic", "{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ '' and 'z' }}|{{ not 0 }}|{{ not [] }}|{{ none or [] }}|{{ 'a' if 0 else 'b' }}|{{ 'a' if 1 }}|{{ 'a' if 0 }}", {}),
    ("undefined_ok", "[{{ nope }}][{{ nope is defined }}][{{ nope is undefined }}][{{ nope | length }}][{{ nope | default('d') }}][{% for x in nope %}x{% endfor %}][{{ not nope }}][{{ d.missing }}][{{ d['missing'] }}][{{ l[9] }}][{{ none.x }}]", {"d": {"a": 1}, "l": [1]}),
    ("undefined_attr_error", "{{ nope.x }}", {}),
    ("undefined_attr2_error", "{{ d.a.b.c }}", {"d": {"a": {}}}),
    ("add_type_error", "{{ 'a' + 1 }}", {}),
    ("lt_type_error", "{{ 'a' < 1 }}", {}),
    ("raise", "{% if x %}{{ raise_exception('bad input: ' ~ x) }}{% endif %}", {"x": 3}),
    ("whitespace_minus", "a  \n  {{- 'b' -}}  \n  c {%- if true -%}  d  {%- endif -%}  e\n{#- c -#}\n f", {}),
    ("trim_lstrip", "x\n    {% if true %}\n    y\n    {% endif %}\n    {# comment #}\nz\n  {%+ if true %}k{% endif %}\n{{ 'v' }}\n  {{ 'w' }}\n", {}),
    ("lstrip_only_at_line_start", "a {% if true %}b{% endif %} c\n\t {% if true %}\nd\n\t{% endif %}", {}),
    ("comment_trim", "a{# x #}\nb\n  {#- y #}  c\n{# z -#}\n  d", {}),
    ("raw", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}\n{{ 'after' }}", {}),
    ("for_loop", "{% for m in msgs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}:{{ m.role }}{% if not loop.last %},{% endif %}{% endfor %}", {"msgs": MSGS}),
    ("for_prev_next_cycle", "{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }} {{ loop.cycle('a', 'b') }}|{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("for_filter", "{% for m in msgs if m.role != 'system' %}{{ loop.index }}{{ m.role[0] }}{{ loop.length }} {% endfor %}", {"msgs": MSGS}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {"d": {"z": 1, "a": [2]}}),
    ("for_dict_and_string", "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'héllo' %}{{ c }}.{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("nested_loops", "{% for i in range(3) %}{% for j in range(i) %}{{ i }}{{ j }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("set_scope", "{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 9 %}{% endif %}{{ x }}", {}),
    ("set_tuple_and_block", "{% set a, b = 1, 'two' %}{{ a }}{{ b }}{% set blk %}  in {{ a }} block  {% endset %}[{{ blk }}]{% set up | upper | trim %} shout {% endset %}[{{ up }}]", {}),
    ("namespace", "{% set ns = namespace(n=0, found=false, items=[]) %}{% for i in [3, 4, 5] %}{% set ns.n = ns.n + i %}{% if i == 4 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.n }} {{ ns.found }} {{ ns.items }}", {}),
    ("namespace_loop_last_index", "{% set ns = namespace(last=-1) %}{% for m in msgs[::-1] %}{% set idx = (msgs|length - 1) - loop.index0 %}{% if ns.last == -1 and m.role == 'user' %}{% set ns.last = idx %}{% endif %}{% endfor %}{{ ns.last }}", {"msgs": MSGS}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }}{% macro render(m) %}<{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>{% endmacro %}{% for m in msgs %}{{ render(m) }}{% endfor %}", {"msgs": MSGS}),
    ("macro_scope", "{% set g = 'global' %}{% macro m() %}{{ g }}{{ i }}{% endmacro %}{% for i in [1] %}{{ m() }}{% endfor %}", {}),
    ("macro_recursive", "{% macro walk(v) %}{% if v is mapping %}{% for k, x in v.items() %}{{ k }}:{{ walk(x) }};{% endfor %}{% elif v is sequence and v is not string %}[{% for x in v %}{{ walk(x) }}{% endfor %}]{% else %}{{ v }}{% endif %}{% endmacro %}{{ walk(d) }}", {"d": {"a": [1, {"b": "c"}], "d": None}}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("filter_block", "{% filter upper %}shout {{ 'it' }}{% endfilter %}", {}),
    ("string_methods", "{{ '  x y  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '\\n\\nhi\\n'.lstrip('\\n') }}|{{ 'hi\\n\\n'.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'AbC'.upper() }}{{ 'AbC'.lower() }}|{{ 'aXbXc'.replace('X', '-') }}|{{ 'aXbXc'.replace('X', '-', 1) }}|{{ 'abcabc'.find('c') }}{{ 'abc'.find('z') }}{{ 'abcabc'.rfind('b') }}|{{ 'abcabc'.count('bc') }}|{{ ', '.join(['a', 'b']) }}|{{ 'l1\\nl2\\r\\nl3'.splitlines() }}|{{ '{} and {}'.format(1, 'two') }}|{{ '{name}!'.format(name='N') }}|{{ '42'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}{{ 'ab'.islower() }}{{ 'AB'.isupper() }}|{{ 'x'.center(5, '*') }}|{{ '7'.zfill(3) }}", {}),
    ("think_split", "{% set c = m.content %}{% if '</think>' in c %}{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}{% endif %}", {"m": {"content": "<think>\nreason\n</think>\n\nanswer"}}),
    ("slicing", "{{ 'abcdef'[1:3] }}|{{ 'abcdef'[::-1] }}|{{ 'abcdef'[::2] }}|{{ 'abcdef'[-2:] }}|{{ 'abcdef'[:-2] }}|{{ [1, 2, 3, 4][1:] }}|{{ [1, 2, 3, 4][::-2] }}|{{ [1, 2, 3][5:] }}|{{ 'héllo'[1] }}{{ 'héllo'[-1] }}|{{ 'abc'[10:1:-1] }}|{{ 'abc'[-10:] }}", {}),
    ("dict_access", "{{ d.a }}|{{ d['b'] }}|{{ d.get('a') }}|{{ d.get('zz', 'dflt') }}|{{ d.get('zz') }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d | length }}|{{ d.items() | list }}|{{ l.0 }}{{ l[-1] }}", {"d": {"a": 1, "b": "two"}, "l": [5, 6]}),
    ("tests", "{{ 1 is number }}{{ true is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is boolean }}{{ 's' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ 's' is iterable }}{{ none is none }}{{ x is none }}{{ x is not none }}{{ false is false }}{{ 0 is false }}{{ true is true }}{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 3 is eq 3 }}{{ 2 is lt 3 }}{{ 2 is in [2] }}{{ 'ab' is lower }}{{ f is callable }}{{ x is sameas none }}", {"x": None, "f": None}),
    ("filters_str", "{{ ' x ' | trim }}|{{ 'xxyxx' | trim('x') }}|{{ 'ab' | upper }}{{ 'AB' | lower }}|{{ 'hello world' | title }}|{{ 'hello' | capitalize }}|{{ 'a-b-c' | replace('-', '+') }}|{{ 'abc' | reverse }}|{{ 'a\\nb' | indent(2) }}|{{ 'a\\n\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'x' | center(5) }}|{{ 'one two  three' | wordcount }}|{{ '<a & \"b\">' | e }}|{{ 42 | string }}|{{ 'abc' | length }}|{{ 'héllo' | count }}|{{ '%s=%d' | format('x', 3) }}|{{ '%.2f' % 3.14159 }}|{{ 'ab' | first }}{{ 'ab' | last }}", {}),
    ("filters_num", "{{ -3 | abs }}|{{ 3.7 | int }}|{{ '12' | int }}|{{ 'x' | int(5) }}|{{ '3.5' | float }}|{{ 3 | float }}|{{ 2.567 | round(2) }}|{{ 2.5 | round }}|{{ 2.1 | round(0, 'ceil') }}|{{ [1, 2, 3] | sum }}|{{ [3, 1, 2] | max }}{{ [3, 1, 2] | min }}|{{ [1.5, 2] | sum }}", {}),
    ("filters_list", "{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ [1, 2, 2, 'a', 'A'] | unique | list }}|{{ [1, 2] | reverse | list }}|{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}|{{ [1, 2] | join('-') }}|{{ [1, 0, 2, none] | select | list }}|{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('even') | list }}|{{ ['a', 'b'] | map('upper') | list }}|{{ msgs | map(attribute='role') | join(',') }}|{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ msgs | rejectattr('role', 'eq', 'user') | list | length }}|{{ msgs | sort(attribute='role') | map(attribute='role') | list }}|{{ d | dictsort }}|{{ d | dictsort(reverse=true) }}|{{ d | items | list }}|{{ [[1, 2]] | list }}|{{ 'ab' | list }}", {"msgs": MSGS, "d": {"b": 2, "a": 1, "C": 0}}),
    ("default_filter", "{{ x | default('d') }}|{{ none | default('d') }}|{{ '' | default('d', true) }}|{{ 0 | d('z', boolean=true) }}|{{ y | default('d') }}", {"y": "set"}),
    ("tojson", "{{ tools | tojson }}\n{{ tools[0] | tojson(indent=2) }}\n{{ {'b': 1, 'a': [1, 2]} | tojson(sort_keys=true) }}\n{{ {'a': 'é \\u2028 \\x00 \\t', 'b': [true, false, none, 1.0, 1e22, -0.0, 123]} | tojson }}\n{{ [] | tojson }}{{ {} | tojson(indent=2) }}{{ {'a': []} | tojson(indent=2) }}\n{{ {'a': 1} | tojson(separators=(',', ':')) }}\n{{ 'ü' | tojson(ensure_ascii=true) }}{{ '🙂' | tojson(ensure_ascii=true) }}\n{{ 'x' | tojson }}{{ 5 | tojson }}{{ none | tojson }}", {"tools": TOOLS}),
    ("tojson_undefined_error", "{{ nope | tojson }}", {}),
    ("dict_global", "{% set d = dict(a=1, b='x') %}{{ d }}{{ d | tojson }}{% set e = dict(d, c=3) %}{{ e }}", {}),
    ("string_escapes", "{{ 'tab\\there' }}|{{ \"q'uote\" }}|{{ 'q\\'s' }}|{{ 'uni\\u00e9\\U0001F642\\x41' }}|{{ 'oct\\101' }}|{{ 'unknown\\d' }}|{{ 'a' 'b' \"c\" }}", {}),
    ("repr_strings", "{{ ['it\\'s', 'say \"x\"', 'both \\' \"', 'nl\\n', 'tab\\t', 'bell\\x07', 'é', '\\u200b'] }}", {}),
    ("add_generation_prompt", "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}", {"messages": MSGS, "add_generation_prompt": True}),
    ("generation_tag", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}", {"messages": MSGS}),
    ("llama3_style", "{{- bos_token }}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n{%- for message in messages %}\n    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n", {"messages": MSGS, "bos_token": "<s>", "add_generation_prompt": True}),
    ("mistral_style", "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}", {"messages": MSGS[1:], "bos_token": "<s>", "eos_token": "</s>"}),
    ("mistral_style_error", "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% endfor %}", {"messages": MSGS}),
    ("content_parts", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% elif p.type == 'image' %}<img>{% endif %}{% endfor %}{% endif %};{% endfor %}", {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}, {"role": "user", "content": "plain"}]}),
    ("tool_args_mapping", "{% for tc in calls %}{% if tc.arguments is mapping %}{% for k, v in tc.arguments.items() %}<{{ k }}>{{ v if v is string else v | tojson }}</{{ k }}>{% endfor %}{% else %}{{ tc.arguments }}{% endif %}{% endfor %}", {"calls": [{"arguments": {"city": "Paris", "n": 3, "opts": {"a": [1]}}}, {"arguments": "{\"raw\": 1}"}]}),
    ("line_numbers_multiline", "a\n{% for x in [1] %}\n{{ x }}\n{% endfor %}\n{{ 'end' }}", {}),
]

QWEN_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Get the weather",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                    "required": ["city"]}}},
    {"type": "function", "function": {"name": "calc", "description": "Évalue une expression « math »",
     "parameters": {"type": "object", "properties": {"expr": {"type": "string"}, "precision": {"type": "integer", "default": 2},
                                                     "scale": {"type": "number", "minimum": 0.5}}}}},
]

QWEN = [
    ([{"role": "user", "content": "Hi"}], None, False, {}),
    ([{"role": "user", "content": "Hi"}], None, True, {"enable_thinking": True}),
    ([{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}], QWEN_TOOLS, True, {}),
    ([{"role": "user", "content": "2 cities"},
      {"role": "assistant", "content": "Let me check.", "tool_calls": [
          {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}},
          {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
      {"role": "tool", "content": "{\"t\": 21}"}, {"role": "tool", "content": "{\"t\": -3}"},
      {"role": "assistant", "content": "Paris 21, Oslo -3."}, {"role": "user", "content": "thanks"}], QWEN_TOOLS, True, {}),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning_content": "because"},
      {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2", "reasoning_content": "why not"}], None, False, {}),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "final", "reasoning": "vllm field"}], None, False, {}),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\n\nx\n\n</think>\n\n\nans"},
      {"role": "user", "content": "<tool_response>\nr\n</tool_response>"}], None, True, {"enable_thinking": False}),
    ([{"role": "user", "content": "call"}, {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "calc", "arguments": {"expr": "1+1", "precision": 3, "flags": [True, None, 1.5]}}}]},
      {"role": "tool", "content": "2"}], QWEN_TOOLS, True, {}),
    ([{"role": "system", "content": "multi\nline\n"}, {"role": "user", "content": "ünïcödé 中文 🙂\t\r\n"},
      {"role": "system", "content": "late system"}], None, True, {"extra_var": "ignored"}),
    ([{"role": "user", "content": ""}], None, True, {}),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, tpl, vars_ in JINJA:
        c = {"name": name, "template": tpl, "vars": vars_}
        try:
            c["expected"] = _compile_jinja_template(tpl).render(**vars_)
        except Exception as e:  # noqa: BLE001 - any jinja error is an expected error case
            c["error"] = True
            c["python_error"] = f"{type(e).__name__}: {e}"
        cases.append(c)
    with open(os.path.join(OUT, "jinja_cases.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)

    tok = AutoTokenizer.from_pretrained(os.path.join(SHARED, "tokenizers", "qwen3"))
    out = []
    for msgs, tools, agp, kw in QWEN:
        r = tok.apply_chat_template(msgs, tools=tools, add_generation_prompt=agp, tokenize=False, **kw)
        out.append({"messages": msgs, "tools": tools, "add_generation_prompt": agp, "kwargs": kw, "rendered": r})
    with open(os.path.join(OUT, "qwen3_chat_cases.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    print(f"{len(cases)} jinja cases ({sum('error' in c for c in cases)} errors), {len(out)} qwen3 chat cases")


if __name__ == "__main__":
    main()
