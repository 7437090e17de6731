using System.Text.Json;
using Minnow.Generation.ChatTemplates;

namespace Minnow.Tests.ChatTemplates;

/// <summary>
/// The interpreter construct by construct. Every expected string was produced by Jinja2 3.1.6 configured as Hugging Face's
/// apply_chat_template configures it (sandbox, trim_blocks, lstrip_blocks, loopcontrols, tojson = json.dumps), with the
/// messages below bound as <c>messages</c>.
/// </summary>
public class InterpreterTests
{
    private static readonly JsonElement Messages = JsonDocument.Parse("""
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi 🙂"},
         {"role": "assistant", "content": "Hello!", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}]
        """).RootElement;

    private static string Render(string template) => ChatTemplate.Parse(template).Render(Messages, addGenerationPrompt: false);

    /// <summary>trim_blocks, lstrip_blocks, '-' and '+' whitespace control, comments, raw, and the one trailing newline Jinja drops.</summary>
    [Theory]
    [InlineData("  {% if true %}\n    kept\n  {% endif %}\ndone", "    kept\ndone")]
    [InlineData("a  {%- if true %}  b  {% endif -%}  c", "a  b  c")]
    [InlineData("{% for m in messages %}\n  - {{ m.role }}\n{% endfor %}", "  - system\n  - user\n  - assistant\n")]
    [InlineData("x {% if true %}\ny{% endif %}\nz", "x yz")]
    [InlineData("  {%+ if true %}keep{% endif +%}\nafter", "  keep\nafter")]
    [InlineData("a{#- comment -#}\n  b\n  {# own line #}\nc", "ab\nc")]
    [InlineData("{{ \"x\" }}   {{- \"y\" -}}   {{ \"z\" }}", "xyz")]
    [InlineData("{% raw %}{{ not evaluated }}{% endraw %}|{%- raw -%}   {{ y }}   {%- endraw -%}   |", "{{ not evaluated }}|{{ y }}|")]
    [InlineData("{{ \"one trailing newline is dropped\" }}\n", "one trailing newline is dropped")]
    public void Whitespace(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>loop variables, the loop filter (counted before loop.length), else, break/continue, unpacking, recursive loops.</summary>
    [Theory]
    [InlineData("{% for x in [1, 2, 3] if x > 1 %}{{ loop.index }}/{{ loop.length }} {{ loop.first }} {{ loop.last }} {{ loop.revindex }} {{ loop.previtem }}|{% else %}none{% endfor %}", "1/2 True False 2 |2/2 False True 1 2|")]
    [InlineData("{% for x in [] %}x{% else %}empty{% endfor %}", "empty")]
    [InlineData("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", "02")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    [InlineData("{% for x in [3, 4] %}{% set outer = loop %}{% for y in 'ab' %}{{ outer.index }}{{ loop.index0 }}{{ y }} {% endfor %}{% endfor %}", "10a 11b 20a 21b ")]
    [InlineData("{% for x in ['a', 'b', 'c'] %}{{ loop.cycle('odd', 'even') }}{{ loop.nextitem }} {% endfor %}", "oddb evenc odd ")]
    [InlineData("{% for item in [{'n': 'a', 'c': [{'n': 'b', 'c': []}]}] recursive %}{{ item.n }}{{ loop.depth }}[{{ loop(item.c) }}]{% endfor %}", "a1[b2[]]")]
    [InlineData("{%- for message in messages[::-1] %}{{ loop.index0 }}{{ message.role }} {% endfor %}", "0assistant 1user 2system ")]
    public void Loops(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>for iterations get their own scope, namespace() carries values out, if does not scope, block set, with, macros, call blocks, filter blocks.</summary>
    [Theory]
    [InlineData("{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}", "1110")]
    [InlineData("{% set ns = namespace(count=0, roles=[]) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.roles = ns.roles + [m.role] %}{% endfor %}{{ ns.count }} {{ ns.roles }}", "3 ['system', 'user', 'assistant']")]
    [InlineData("{% if true %}{% set a = 1 %}{% endif %}{{ a }}", "1")]
    [InlineData("{% set outer = 'o' %}{% for i in range(2) %}{{ outer }}{% set outer = 'i' %}{{ outer }}{% endfor %}{{ outer }}", "oioio")]
    [InlineData("{% set s %}  body {{ 1 + 1 }} {% endset %}[{{ s }}]{% set t | trim | upper %}  q  {% endset %}[{{ t }}]", "[  body 2 ][Q]")]
    [InlineData("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", "3[]")]
    [InlineData("{% macro greet(name, greeting='Hi') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('A') }} {{ greet(greeting='Yo', name='B') }}", "Hi, A! Yo, B!")]
    [InlineData("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", "<b>bold</b>")]
    [InlineData("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, z=3) }}", "1(2,){'z': 3}")]
    [InlineData("{% filter upper %}hello {{ 'w' }}{% endfilter %}", "HELLO W")]
    public void Scoping(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>Jinja's built-in filters, including map/select with attributes and tests, and Markup escaping after |safe.</summary>
    [Theory]
    [InlineData("{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hello World'|lower }}|{{ 'hello world'|upper }}|{{ \"it's a-b\"|title }}|{{ 'hELLO'|capitalize }}|{{ 'aaa'|replace('a', 'b', 2) }}", "x|hi|hello world|HELLO WORLD|It's A-B|Hello|bba")]
    [InlineData("{{ [3, 1, 2]|first }}{{ [3, 1, 2]|last }}{{ [3, 1, 2]|length }}{{ 'abc'|count }}{{ [3, 1, 2]|sort }}{{ [3, 1, 2]|sort(reverse=true) }}{{ [1, 2]|sum }}{{ [4, 2]|min }}{{ [4, 2]|max }}", "3233[1, 2, 3][3, 2, 1]324")]
    [InlineData("{{ none|default('d') }}|{{ undefined_name|default('d') }}|{{ ''|default('d') }}|{{ ''|default('d', true) }}|{{ false|d('x', boolean=true) }}", "None|d||d|x")]
    [InlineData("{{ [1, 2, 3]|join(', ') }}|{{ messages|join(',', attribute='role') }}|{{ 5|string ~ '!' }}|{{ 'ab'|list }}|{{ '42'|int + 1 }}|{{ '4.7'|int }}|{{ 'x'|int(7) }}|{{ '2.5'|float * 2 }}|{{ -3|abs }}|{{ 2.5|round }}|{{ 2.675|round(2) }}|{{ 3.14159|round(2, 'floor') }}", "1, 2, 3|system,user,assistant|5!|['a', 'b']|43|4|7|5.0|3|2.0|2.67|3.14")]
    [InlineData("{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}|{{ messages|rejectattr('role', 'in', ['system', 'user'])|map(attribute='role')|first }}|{{ messages|selectattr('tool_calls', 'defined')|list|length }}|{{ messages|map(attribute='missing', default='-')|join }}|{{ ['a', 'b']|map('upper')|list }}|{{ [1, 2, 3, 4]|select('odd')|list }}|{{ [0, 1, '', none, 'a']|select|list }}", "['Hi 🙂']|assistant|1|---|['A', 'B']|[1, 3]|[1, 'a']")]
    [InlineData("{{ {'b': 1, 'a': 2}|items|list }}|{{ {'b': 1, 'A': 2, 'a': 3}|dictsort }}|{{ [1, 2, 2, 'a', 'A']|unique|list }}|{{ 'abc'|reverse }}|{{ [1, 2]|reverse|list }}", "[('b', 1), ('a', 2)]|[('A', 2), ('a', 3), ('b', 1)]|[1, 2, 'a']|cba|[2, 1]")]
    [InlineData("{{ 'a\\nb\\n'|indent(2) }}|{{ 'a\\n\\nb'|indent(2, true, true) }}|{{ 'hello world foo bar'|truncate(9) }}|{{ 'one two'|wordcount }}|{{ '<a & \"b\">'|escape }}|{{ 'x'|center(5) }}|", "a\n  b\n|  a\n  \n  b|hello...|2|&lt;a &amp; &#34;b&#34;&gt;|  x  |")]
    [InlineData("{{ ('a' ~ \"'\")|safe + '<b>' }}|{{ '<i>' + ('x'|safe) }}|{{ ('a'|safe) ~ '<' }}", "a'&lt;b&gt;|&lt;i&gt;x|a<")]
    public void Filters(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>Python truthiness and and/or returning an operand.</summary>
    [Theory]
    [InlineData("{% for v in [0, 1, 0.0, '', 'a', [], [0], {}, {'a': 1}, none, true, false] %}{{ 'T' if v else 'F' }}{% endfor %}", "FTFFTFTFTFTF")]
    [InlineData("{{ 0 or 'x' }}|{{ '' and 1 }}|{{ [] or [1] }}|{{ not none }}|{{ not undefined_name }}|{{ 1 and 2 }}", "x||[1]|True|True|2")]
    [InlineData("{% if messages[5] %}yes{% else %}no{% endif %}{% if messages[0].missing %}yes{% else %}no{% endif %}", "nono")]
    public void Truthiness(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>Python slicing and code point indexing of strings (an emoji is one character).</summary>
    [Theory]
    [InlineData("{{ 'hello'[1:-1] }} {{ 'hello'[::-1] }} {{ 'hello'[::2] }} {{ 'hello'[-3:] }} {{ [1, 2, 3, 4, 5][1:4:2] }} {{ [1, 2, 3][5:] }} {{ (1, 2, 3)[::-1] }} {{ messages[1:]|length }} {{ messages[-1].role }}", "ell olleh hlo llo [2, 4] [] (3, 2, 1) 2 assistant")]
    [InlineData("{{ 'a🙂b'|length }} {{ 'a🙂b'[1] }} {{ 'a🙂b'[::-1] }} {{ 'a🙂b'.find('b') }}", "3 🙂 b🙂a 2")]
    public void Slicing(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>HF's tojson: json.dumps(ensure_ascii=False) separators, indent, sort_keys and float formatting.</summary>
    [Theory]
    [InlineData("{{ {'a': 1, 'b': [1.5, none, true], 'c': 'é \"q\" \\\\ \\n'}|tojson }}", "{\"a\": 1, \"b\": [1.5, null, true], \"c\": \"é \\\"q\\\" \\\\ \\n\"}")]
    [InlineData("{{ messages[2].tool_calls|tojson(indent=2) }}", "[\n  {\n    \"function\": {\n      \"name\": \"f\",\n      \"arguments\": {\n        \"x\": 1\n      }\n    }\n  }\n]")]
    [InlineData("{{ {'b': 1, 'a': [2, {}]}|tojson(indent=4, sort_keys=true) }}|{{ []|tojson(indent=2) }}|{{ (1, 2)|tojson }}|{{ 'é🙂'|tojson(ensure_ascii=true) }}|{{ {'a': [1, 2]}|tojson(separators=(',', ':')) }}|{{ 1.0|tojson }}|{{ 1e20|tojson }}|{{ {1: 2, none: 3, true: 4}|tojson }}", "{\n    \"a\": [\n        2,\n        {}\n    ],\n    \"b\": 1\n}|[]|[1, 2]|\"\\u00e9\\ud83d\\ude42\"|{\"a\":[1,2]}|1.0|1e+20|{\"1\": 4, \"null\": 3}")]
    public void ToJson(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>str() of Python values, integer/float arithmetic and comparisons.</summary>
    [Theory]
    [InlineData("{{ true }} {{ none }} {{ 1/3 }} {{ 10/2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 3 ** 2 }} {{ 2 ** -1 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }} {{ 0.1 + 0.2 }} {{ true + 1 }} {{ 'ab' * 2 }} {{ [0] * 3 }}", "True None 0.3333333333333333 5.0 3 -4 2 64 0.5 1e+16 1000000000000000.0 0.0001 1e-05 -0.0 0.30000000000000004 2 abab [0, 0, 0]")]
    [InlineData("{{ [1, 'a\\'b', none, true, 1.0] }} {{ {'k': ('t',), 'e': ()} }} {{ {'a': 1}.items() }} {{ {'a': 1}.keys() }} {{ range(3) }} {{ namespace(a=1) }}", "[1, \"a'b\", None, True, 1.0] {'k': ('t',), 'e': ()} dict_items([('a', 1)]) dict_keys(['a']) range(0, 3) <Namespace {'a': 1}>")]
    [InlineData("{{ 1 == 1.0 }} {{ [1] == (1,) }} {{ 'a' < 'b' }} {{ (1, 2) < (1, 3) }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'ab' in 'xaby' }} {{ 1 in [1.0] }} {{ 'k' not in {'k': 1} }}", "True False True True True False True True False")]
    [InlineData("{{ 'x' if false }}|{{ 'a' if none else 'b' if 0 else 'c' }}", "|c")]
    public void Values(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>Jinja tests and the default Undefined (falsy, empty, iterable, equal to any Undefined).</summary>
    [Theory]
    [InlineData("{{ 1 is odd }} {{ 2 is even }} {{ 6 is divisibleby 3 }} {{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ true is number }} {{ true is integer }} {{ 1 is integer }} {{ 1.0 is float }} {{ 1 is true }} {{ true is true }} {{ 'a' is in 'abc' }} {{ 2 is gt 1 }} {{ 'abc' is lower }} {{ [] is sequence }} {{ messages is not string }}", "True True True True True True True True False True False True True False True True True True True True")]
    [InlineData("{{ x is defined }} {{ x is undefined }} {{ messages[0].role is defined }} {{ messages[0].nope is defined }} {{ messages[9] is defined }} {{ x is iterable }} {{ x|length }} {{ x == y }} [{{ x }}] [{{ x ~ 'a' }}]", "False True True False False True 0 True [] [a]")]
    public void Tests(string template, string expected) => Assert.Equal(expected, Render(template));

    /// <summary>str and dict methods, % formatting and str.format.</summary>
    [Theory]
    [InlineData("{{ '  hi  '.strip() }}|{{ 'xhix'.strip('x') }}|{{ '  hi'.lstrip() }}|{{ 'hi  '.rstrip() }}|{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'a b  c'.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|{{ \"it's\".title() }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'hello'.find('l') }}|{{ 'hello'.count('l') }}|{{ '-'.join(['a', 'b']) }}|{{ 'a\\nb'.splitlines() }}", "hi|hi|hi|hi|True|True|['a', 'b', 'c']|['a', 'b,c']|['a,b', 'c']|HIhi|It'S|bXb|2|2|a-b|['a', 'b']")]
    [InlineData("{{ {'k': 'v'}.get('k') }}|{{ {'k': 'v'}.get('x') }}|{{ {'k': 'v'}.get('x', 1) }}|{{ {'k': 'v'}.items()|list }}|{{ {'k': 'v'}.keys()|list }}|{{ {'k': 'v'}.values()|list }}", "v|None|1|[('k', 'v')]|['k']|['v']")]
    [InlineData("{{ '%s-%d'|format('a', 3) }}|{{ '%s and %s' % ('a', 'b') }}|{{ '%(x)s!' % {'x': 1} }}|{{ '%5.2f|%-4s|%05d|%x' % (3.14159, 'ab', 42, 255) }}|{{ '{} x {}'.format(1, 'b') }}|{{ '{name}:{0:>4}'.format(7, name='n') }}|{{ '{:.2f}'.format(2) }}\n", "a-3|a and b|1!| 3.14|ab  |00042|ff|1 x b|n:   7|2.00")]
    public void StringMethods(string template, string expected) => Assert.Equal(expected, Render(template));
}
