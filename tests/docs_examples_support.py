"""Read the docs' ```js examples: supabase.rpc(...) and supabase.from(...) calls (docs/testing.md, "Docs examples")."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UNBOUND = object()
"""A value the harness cannot compute from the example alone (a previous call's result, a UI variable)."""


@dataclass
class Block:
    """One fenced code block."""

    path: Path
    line: int
    language: str
    text: str


@dataclass
class RpcCall:
    """One ``supabase.rpc('name', {...})`` in an example."""

    block: Block
    line: int
    name: str
    keys: list[str] | None
    """Argument names; None when the object has a spread (``...x``) or is not a literal."""
    values: dict[str, Any] = field(default_factory=dict)
    """Evaluated arguments (UNBOUND where the harness cannot compute one)."""

    @property
    def where(self) -> str:
        return f"{self.block.path.name}:{self.line}"


@dataclass
class TableCall:
    """One ``supabase.from('table')`` read or write in an example, with the columns it names."""

    block: Block
    line: int
    table: str
    columns: list[str]

    @property
    def where(self) -> str:
        return f"{self.block.path.name}:{self.line}"


def blocks(path: Path, language: str = "js") -> list[Block]:
    """Fenced blocks of one language, with the line they start on."""
    found, current, start, lang = [], None, 0, ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fence = re.match(r"^```(\w*)\s*$", line.strip())
        if fence and current is None:
            current, start, lang = [], number + 1, fence.group(1)
        elif line.strip() == "```" and current is not None:
            if lang == language:
                found.append(Block(path, start, lang, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return found


def _balanced(text: str, start: int) -> int:
    """Index just after the bracket closing the one at ``start`` (quotes and template strings skipped)."""
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack, index, quote = [], start, None
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
        elif char in pairs:
            stack.append(pairs[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                return index + 1
        index += 1
    raise ValueError("unbalanced brackets")


def _split_top(text: str) -> list[str]:
    """Split an object or array body on top-level commas."""
    parts, depth, quote, current = [], 0, None, []
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                current.append(char)
                index += 1
                char = text[index]
            elif char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


def evaluate(expression: str, bindings: dict[str, Any]) -> Any:
    """A JS literal or bound identifier as a Python value; UNBOUND for anything else."""
    expression = expression.strip()
    if expression in bindings:
        return bindings[expression]
    if expression in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[expression]
    if re.fullmatch(r"-?\d+(\.\d+)?", expression):
        return json.loads(expression)
    if re.fullmatch(r"'(?:[^'\\]|\\.)*'", expression):
        return expression[1:-1].replace("\\'", "'")
    if re.fullmatch(r'"(?:[^"\\]|\\.)*"', expression):
        return json.loads(expression)
    if expression == "crypto.randomUUID()":
        return str(uuid.uuid4())
    if expression.startswith("[") and expression.endswith("]"):
        items = [evaluate(item, bindings) for item in _split_top(expression[1:-1])]
        return UNBOUND if any(item is UNBOUND for item in items) else items
    if expression.startswith("{") and expression.endswith("}"):
        parsed = parse_object(expression, bindings)
        return UNBOUND if parsed is None or any(v is UNBOUND for v in parsed.values()) else parsed
    return UNBOUND


def parse_object(literal: str, bindings: dict[str, Any]) -> dict[str, Any] | None:
    """``{a: 1, b, 'c': x}`` → {name: value}; None when it has a spread."""
    result: dict[str, Any] = {}
    for entry in _split_top(_strip_comments(literal.strip())[1:-1]):
        if entry.startswith("..."):
            return None
        key, colon, value = entry.partition(":")
        key = key.strip().strip("'\"")
        result[key] = evaluate(value if colon else key, bindings)
    return result


def rpc_calls(block: Block, bindings: dict[str, Any]) -> list[RpcCall]:
    """Every supabase.rpc('name', {...}) of a block (arguments: an object literal, or none)."""
    calls = []
    for match in re.finditer(r"supabase\s*\.rpc\(\s*'([a-z_0-9]+)'\s*(,)?", block.text):
        line = block.line + block.text.count("\n", 0, match.start())
        keys: list[str] | None = []
        values: dict[str, Any] = {}
        if match.group(2):
            rest = block.text[match.end() :]
            offset = len(rest) - len(rest.lstrip())
            if rest[offset : offset + 1] == "{":
                end = _balanced(rest, offset)
                parsed = parse_object(rest[offset:end], bindings)
                keys, values = (None, {}) if parsed is None else (list(parsed), parsed)
            else:
                keys = None  # a variable holds the arguments
        calls.append(RpcCall(block, line, match.group(1), keys, values))
    return calls


def table_calls(block: Block) -> list[TableCall]:
    """Every supabase.from('t') chain: the table and the plain column names its select/filters/order name."""
    calls = []
    for match in re.finditer(r"supabase\s*\.from\(\s*'([a-z_0-9]+)'\s*\)", block.text):
        line = block.line + block.text.count("\n", 0, match.start())
        chain_end = match.end()
        columns: list[str] = []
        while True:
            step = re.match(r"\s*\.(\w+)\(", block.text[chain_end:])
            if not step:
                break
            open_at = chain_end + step.end() - 1
            close_at = _balanced(block.text, open_at)
            method, argument = step.group(1), block.text[open_at + 1 : close_at - 1]
            first = _split_top(argument)[0] if argument.strip() else ""
            literal = evaluate(first, {}) if first else None
            if method == "select" and isinstance(literal, str) and literal.strip() != "*":
                for column in _split_top(literal):
                    if "(" not in column and ":" not in column:
                        columns.append(re.split(r"->|::", column)[0].strip())
            elif method in ("eq", "neq", "lt", "lte", "gt", "gte", "in", "is", "order", "like", "ilike"):
                if isinstance(literal, str):
                    columns.append(re.split(r"->|::", literal)[0].strip())
            elif method in ("update", "insert", "upsert") and first.startswith("{"):
                parsed = parse_object(first, {})
                columns.extend(parsed or {})
            chain_end = close_at
        calls.append(TableCall(block, line, match.group(1), columns))
    return calls
