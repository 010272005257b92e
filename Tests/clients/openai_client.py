#!/usr/bin/env python3
"""Drives a running `phigate serve` with the official `openai` package; exits non-zero on any mismatch.

Expects the gateway at PHIGATE_URL (e.g. http://127.0.0.1:8080/v1) with key PHIGATE_API_KEY, in front of
`phigate dev fake-upstream` (which answers "Hello from <upstream model>." and calls the first tool).
"""
import json
import os
import sys

import openai

BASE_URL = os.environ["PHIGATE_URL"]
API_KEY = os.environ["PHIGATE_API_KEY"]

failures = []


def check(name, condition, detail=""):
    if condition:
        print(f"ok   {name}")
    else:
        print(f"FAIL {name} {detail}")
        failures.append(name)


client = openai.OpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0, timeout=30)

# Models
models = [m.id for m in client.models.list()]
check("models lists openai and anthropic names and aliases",
      {"gpt-4o-mini", "gpt-4o", "claude-sonnet-4", "gpt-4o-latest"} <= set(models), models)

# Plain, with headers
raw = client.chat.completions.with_raw_response.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}], seed=7, user="u1",
    extra_body={"metadata": {"team": "a"}})
completion = raw.parse()
check("plain content", completion.choices[0].message.content == "Hello from gpt-4o-mini.", completion)
check("plain finish_reason", completion.choices[0].finish_reason == "stop", completion)
check("plain usage", completion.usage is not None and completion.usage.total_tokens == 18, completion.usage)
check("x-phigate-backend header", raw.headers.get("x-phigate-backend") == "openai", dict(raw.headers))
check("x-request-id header", bool(raw.headers.get("x-request-id")), dict(raw.headers))

# Streamed with usage
stream = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}], stream=True,
    stream_options={"include_usage": True})
text, usage, finish = "", None, None
for chunk in stream:
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
    if chunk.usage:
        usage = chunk.usage
check("streamed text", text == "Hello from gpt-4o-mini.", repr(text))
check("streamed finish_reason", finish == "stop", finish)
check("streamed usage", usage is not None and usage.total_tokens == 18, usage)

# Tools
tools = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
for model in ("gpt-4o-mini", "claude-sonnet-4"):
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools, tool_choice="auto",
        max_tokens=100)
    calls = completion.choices[0].message.tool_calls or []
    check(f"{model} tool call", len(calls) == 1 and calls[0].function.name == "get_weather"
          and json.loads(calls[0].function.arguments) == {"city": "Paris"}, completion)
    check(f"{model} tool finish_reason", completion.choices[0].finish_reason == "tool_calls", completion)

# Streamed tool call
stream = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools, stream=True)
name, arguments = "", ""
for chunk in stream:
    for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
        name += call.function.name or "" if call.function else ""
        arguments += call.function.arguments or "" if call.function else ""
check("streamed tool call", name == "get_weather" and json.loads(arguments or "{}") == {"city": "Paris"},
      (name, arguments))

# Anthropic, plain and streamed
completion = client.chat.completions.create(
    model="claude-sonnet-4", max_tokens=100,
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}])
check("anthropic plain", completion.choices[0].message.content == "Hello from claude-sonnet-4-20250514.", completion)
stream = client.chat.completions.create(
    model="claude-sonnet-4", max_tokens=100, messages=[{"role": "user", "content": "Say hello"}], stream=True)
text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
check("anthropic streamed", text == "Hello from claude-sonnet-4-20250514.", repr(text))

# Errors
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    check("unknown model is 404", False, "no error")
except openai.NotFoundError as error:
    check("unknown model is 404", error.status_code == 404 and error.code == "model_not_found", error)

try:
    openai.OpenAI(base_url=BASE_URL, api_key="wrong-key", max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    check("bad key is 401", False, "no error")
except openai.AuthenticationError as error:
    check("bad key is 401", error.status_code == 401, error)

try:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "wizard", "content": "hi"}])
    check("bad role is 400", False, "no error")
except openai.BadRequestError as error:
    check("bad role is 400 naming the field", error.status_code == 400 and error.param == "messages[0].role", error)

if failures:
    print(f"{len(failures)} check(s) failed: {', '.join(failures)}")
    sys.exit(1)
print("all checks passed")
