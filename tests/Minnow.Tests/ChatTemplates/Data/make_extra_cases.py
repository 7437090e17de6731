"""Writes extra_cases.jsonl: the expected renderings of the templates in this folder.

Not run by the tests. The .jinja files here are written from memory of the structure of real model templates
(Qwen2.5 with tools, Llama 3.1 with tools, SmolLM2, DeepSeek-R1, a Hermes-style tool-use template with a recursive
macro, Gemma 3 with content parts); they are test material for the interpreter, not copies of the originals.
Each expected string was produced by Jinja2 (3.1.6) set up the way Hugging Face transformers' apply_chat_template
sets it up, so the tests compare Minnow against Jinja2 itself:
  python3 make_extra_cases.py   (needs jinja2)
Line format: as ../../../../../shared/data/chat_templates/cases.jsonl, plus "expected_failure" (Jinja2's exception,
for errors other than raise_exception: Minnow must fail too, with its own wording).
"""
import json
from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class RaisedByTemplate(Exception):
    pass


def raise_exception(message):
    raise RaisedByTemplate(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city, e.g. \"Köln\" & more",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "  The city name  "},
            "unit": {"type": ["string", "integer"], "enum": ["celsius", "fahrenheit"], "description": "Unit"},
            "days": {"type": "array", "items": {"type": "integer"}, "description": "Days ahead"},
            "extra": {"type": "object", "additionalProperties": {"type": "number"}, "description": "Extras"}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "now", "description": "The time", "parameters": {"type": "object", "properties": {}},
        "return": {"type": "string", "description": "ISO time"}}},
]

CALL = {"id": "call_abc12", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Köln", "days": [1, 2], "unit": None}}}
CALL_STR = {"id": "call_abc12", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Köln\"}"}}
SEARCH = {"id": "call_xyz98", "type": "function", "function": {"name": "brave_search", "arguments": {"query": "weather Köln"}}}

CONVERSATIONS = {
    "hello": ([{"role": "user", "content": "Hello!"}], {}),
    "system": ([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}], {}),
    "multi_turn": ([{"role": "system", "content": "  Answer in one word.  "}, {"role": "user", "content": "Capital of France?"},
                    {"role": "assistant", "content": "  Paris.  "}, {"role": "user", "content": "Grüße — 你好 🙂\n"}], {}),
    "tools_offered": ([{"role": "user", "content": "Weather in Köln?"}], {"tools": TOOLS}),
    "tool_round_trip": ([{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Köln?"},
                         {"role": "assistant", "content": None, "tool_calls": [CALL]},
                         {"role": "tool", "content": "{\"temp\": 21.5}", "tool_call_id": "call_abc12"},
                         {"role": "tool", "content": "second result", "tool_call_id": "call_abc12"},
                         {"role": "assistant", "content": "It is 21.5 °C."}], {"tools": TOOLS}),
    "string_arguments": ([{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": [CALL_STR, CALL_STR]},
                          {"role": "tool", "content": "sunny"}], {}),
    "two_calls": ([{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "tool_calls": [CALL, CALL]}], {"tools": TOOLS}),
    "builtin_tool": ([{"role": "user", "content": "Search it"}, {"role": "assistant", "content": "", "tool_calls": [SEARCH]},
                      {"role": "ipython", "content": {"results": ["a", "b"]}}],
                     {"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"], "date_string": "01 Jan 2025", "tools_in_user_message": False, "tools": TOOLS}),
    "content_parts": ([{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                       {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "  Describe this.  "}]}], {}),
    "reasoning": ([{"role": "user", "content": "Think."}, {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nDone."},
                   {"role": "user", "content": "Again"}], {}),
    "not_alternating": ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}),
    "empty": ([], {}),
}

TEMPLATES = {
    "qwen2.5-tools.jinja": (None, "<|im_end|>"),
    "llama-3.1-tools.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "smollm2.jinja": ("<|im_start|>", "<|im_end|>"),
    "deepseek-r1.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "hermes-tool-use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
    "gemma-3.jinja": ("<bos>", "<eos>"),
}

with open("extra_cases.jsonl", "w", encoding="utf-8") as out:
    for template_name, (bos, eos) in TEMPLATES.items():
        with open(template_name, encoding="utf-8") as f:
            template = env.from_string(f.read())
        for conversation, (messages, extra) in CONVERSATIONS.items():
            for add_generation_prompt in (False, True):
                case = {"template": template_name, "conversation": conversation, "bos_token": bos, "eos_token": eos,
                        "messages": messages, "add_generation_prompt": add_generation_prompt, "extra_context": extra}
                context = {"bos_token": bos, "eos_token": eos}
                context = {k: v for k, v in context.items() if v is not None}
                context.update(extra)
                context.setdefault("tools", None)
                try:
                    case["expected"] = template.render(messages=messages, documents=None, add_generation_prompt=add_generation_prompt, **context)
                except RaisedByTemplate as e:
                    case["expected_error"] = str(e)
                except Exception as e:
                    case["expected_failure"] = f"{type(e).__name__}: {e}"
                out.write(json.dumps(case, ensure_ascii=False) + "\n")
