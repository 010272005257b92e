#!/usr/bin/env python3
"""Drives the local backend of a running `phigate serve` with the official `openai` package and compares its
answers with `phigate generate` on the same model file, prompt, sampling parameters and seed.

Expects PHIGATE_URL, PHIGATE_API_KEY, PHIGATE_BIN (the phigate executable) and PHIGATE_LOCAL_MODEL (the file the
gateway serves as model "local", alias "phi").
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import openai

BASE_URL = os.environ["PHIGATE_URL"]
API_KEY = os.environ["PHIGATE_API_KEY"]
PHIGATE = os.environ["PHIGATE_BIN"]
MODEL_FILE = os.environ["PHIGATE_LOCAL_MODEL"]

failures = []


def check(name, condition, detail=""):
    if condition:
        print(f"ok   {name}")
    else:
        print(f"FAIL {name} {detail}")
        failures.append(name)


def generate(prompt, temperature, seed, max_tokens):
    """`phigate generate --json` with the sampling the gateway uses (no top-k, top-p 1)."""
    out = subprocess.run(
        [PHIGATE, "generate", "--model", MODEL_FILE, "--chat", "--prompt", prompt, "--temperature", str(temperature),
         "--seed", str(seed), "--max-tokens", str(max_tokens), "--top-k", "0", "--top-p", "1", "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


client = openai.OpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0, timeout=60)

models = [m.id for m in client.models.list()]
check("models lists local and its alias", {"local", "phi"} <= set(models), models)

# Plain and streamed answers equal `phigate generate` for the same seed (sampled, not only greedy).
for temperature, seed in ((0, 1), (0.9, 1234)):
    reference = generate("Tell me a story", temperature, seed, 24)
    raw = client.chat.completions.with_raw_response.create(
        model="local", messages=[{"role": "user", "content": "Tell me a story"}], temperature=temperature,
        top_p=1, seed=seed, max_tokens=24)
    completion = raw.parse()
    check(f"plain equals generate (T={temperature})", completion.choices[0].message.content == reference["text"],
          (completion.choices[0].message.content, reference["text"]))
    check(f"plain usage exact (T={temperature})",
          completion.usage.prompt_tokens == reference["usage"]["prompt_tokens"]
          and completion.usage.completion_tokens == reference["usage"]["completion_tokens"], completion.usage)
    check(f"plain finish_reason (T={temperature})", completion.choices[0].finish_reason == reference["finish_reason"],
          completion.choices[0].finish_reason)
    check("x-phigate-backend is local", raw.headers.get("x-phigate-backend") == "local", dict(raw.headers))

    stream = client.chat.completions.create(
        model="phi", messages=[{"role": "user", "content": "Tell me a story"}], temperature=temperature, top_p=1,
        seed=seed, max_tokens=24, stream=True, stream_options={"include_usage": True})
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    check(f"streamed equals generate (T={temperature})", text == reference["text"], (text, reference["text"]))
    check(f"streamed usage exact (T={temperature})",
          usage is not None and usage.completion_tokens == reference["usage"]["completion_tokens"], usage)
    check(f"streamed finish_reason (T={temperature})", finish == reference["finish_reason"], finish)

# Concurrent greedy requests each get what they get alone.
prompts = ["One", "Two words", "Three little words", "Four words in a row"]
alone = {p: generate(p, 0, 0, 16)["text"] for p in prompts}


def ask(prompt):
    answer = client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": prompt}], temperature=0, max_tokens=16)
    return prompt, answer.choices[0].message.content


with ThreadPoolExecutor(max_workers=4) as pool:
    together = dict(pool.map(ask, prompts * 2))
check("concurrent greedy answers equal answers alone", together == alone, (together, alone))

# n, logprobs
completion = client.chat.completions.create(
    model="local", messages=[{"role": "user", "content": "Hi"}], n=2, seed=5, max_tokens=8, logprobs=True,
    top_logprobs=2)
check("n=2 gives two choices", [c.index for c in completion.choices] == [0, 1], completion)
content = completion.choices[0].logprobs.content if completion.choices[0].logprobs else []
check("logprobs per token with top_logprobs", len(content) >= 1 and all(len(t.top_logprobs) == 2 for t in content),
      content)

# Errors the local model gives
try:
    client.chat.completions.create(model="local", messages=[{"role": "user", "content": "hi " * 600}])
    check("context overflow is 400", False, "no error")
except openai.BadRequestError as error:
    check("context overflow is 400 with the numbers",
          error.status_code == 400 and error.code == "context_length_exceeded" and "512" in str(error), error)
try:
    client.chat.completions.create(
        model="local", messages=[{"role": "user", "content": "hi"}],
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    check("tools on the local model are 400", False, "no error")
except openai.BadRequestError as error:
    check("tools on the local model are 400", error.status_code == 400 and error.param == "tools", error)

if failures:
    print(f"{len(failures)} local check(s) failed: {', '.join(failures)}")
    sys.exit(1)
print("all local checks passed")
