#!/usr/bin/env python3
"""Notes: a minimal MCP server over stdio, Python 3 standard library only.

Built on switchboard_mcp.py, a vendored copy of sdk/python/switchboard_mcp.py (one file, no
dependencies; test/integration/python-sdk.test.ts checks the two copies are identical). The
module speaks JSON-RPC 2.0 over stdin/stdout; this file is only the notes themselves.
"""

import json
import os
import sys
import tempfile
import uuid

# No __pycache__ in the integration folder: under a sha256 pin the gateway re-hashes the folder
# before each spawn (and sets PYTHONDONTWRITEBYTECODE itself); unpinned, this keeps it clean.
sys.dont_write_bytecode = True

from switchboard_mcp import INTERNAL_ERROR, RpcError, Server, tool_result  # noqa: E402

# Bounds keep one note (and one search answer) far below the 10 MB stdio read buffer of the
# TypeScript SDK client.
MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 20_000
MAX_RESULTS = 50

server = Server("notes", version="0.1.0")


class BadArguments(Exception):
    """A tool was called with arguments that do not match its input schema."""


class NoteStore:
    """All notes in one JSON file; written atomically (temp file + rename) so a crash mid-write
    never leaves a truncated file behind."""

    def __init__(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, "notes.json")

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return []

    def save(self, notes):
        folder = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".notes-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(notes, handle, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)

    def add(self, title, body):
        notes = self.load()
        note = {"id": uuid.uuid4().hex[:12], "title": title, "body": body}
        notes.append(note)
        self.save(notes)
        return note

    def search(self, query):
        needle = query.casefold()
        hits = [
            n
            for n in self.load()
            if needle in n["title"].casefold() or needle in n["body"].casefold()
        ]
        return hits[:MAX_RESULTS]


store = None  # set by main(), before serving


def require_string(arguments, key, max_chars=None, allow_empty=False):
    value = arguments.get(key)
    if not isinstance(value, str):
        raise BadArguments(f"'{key}' must be a string")
    if not allow_empty and not value.strip():
        raise BadArguments(f"'{key}' must not be empty")
    if max_chars is not None and len(value) > max_chars:
        raise BadArguments(f"'{key}' must be at most {max_chars} characters")
    return value


def with_store(tool, action):
    """Bad arguments are a tool-level failure the model can read and correct (an isError
    result); a storage failure (unreadable or corrupt notes.json) is not the model's to fix, so
    it is a JSON-RPC internal error."""
    try:
        return action()
    except BadArguments as error:
        raise ValueError(f"Invalid arguments for {tool}: {error}") from error
    except (OSError, ValueError) as error:
        server.log(f"storage error: {type(error).__name__}: {error}")
        raise RpcError(INTERNAL_ERROR, "Internal error: note storage failed") from error


@server.tool(
    title="Add a note",
    description="Store a note and return its id.",
    input_schema={
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS},
            "body": {"type": "string", "maxLength": MAX_BODY_CHARS},
        },
        "required": ["title", "body"],
        "additionalProperties": False,
    },
)
def add_note(arguments):
    def add():
        title = require_string(arguments, "title", MAX_TITLE_CHARS)
        body = require_string(arguments, "body", MAX_BODY_CHARS, allow_empty=True)
        note = store.add(title, body)
        return tool_result(f"Added note {note['id']}", {"id": note["id"]})

    return with_store("add_note", add)


@server.tool(
    title="Search notes",
    description="Case-insensitive substring search over note titles and bodies.",
    input_schema={
        "type": "object",
        "properties": {"query": {"type": "string", "minLength": 1}},
        "required": ["query"],
        "additionalProperties": False,
    },
)
def search_notes(arguments):
    def search():
        query = require_string(arguments, "query")
        notes = store.search(query)
        lines = [f"{n['id']}: {n['title']}\n{n['body']}" for n in notes]
        text = "\n\n".join(lines) if lines else f"No notes match '{query}'."
        return tool_result(text, {"notes": notes})

    return with_store("search_notes", search)


def main():
    global store
    store = NoteStore(os.environ.get("NOTES_DIR") or "./.data")
    server.log(f"notes in {os.path.abspath(store.path)}")
    server.run()


if __name__ == "__main__":
    main()
