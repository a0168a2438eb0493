#!/usr/bin/env python3
"""Notes: a minimal MCP server over stdio, Python 3 standard library only.

It speaks JSON-RPC 2.0, one message per line on stdin/stdout (the MCP stdio binding), written
by hand to show that an integration needs no SDK. stdout carries protocol messages only; every
log line goes to stderr.
"""

import json
import os
import sys
import tempfile
import uuid

SERVER_INFO = {"name": "notes", "version": "0.1.0"}
# Newest first: the first entry is what we answer when the client asks for something else.
SUPPORTED_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]

# JSON-RPC 2.0 error codes (spec §5.1).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

# Bounds keep one note (and one search answer) far below the 10 MB stdio read buffer of the
# TypeScript SDK client.
MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 20_000
MAX_RESULTS = 50

TOOLS = [
    {
        "name": "add_note",
        "title": "Add a note",
        "description": "Store a note and return its id.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS},
                "body": {"type": "string", "maxLength": MAX_BODY_CHARS},
            },
            "required": ["title", "body"],
            "additionalProperties": False,
        },
    },
    {
        "name": "search_notes",
        "title": "Search notes",
        "description": "Case-insensitive substring search over note titles and bodies.",
        "inputSchema": {
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 1}},
            "required": ["query"],
            "additionalProperties": False,
        },
    },
]


def log(message):
    print(f"notes: {message}", file=sys.stderr, flush=True)


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


def require_string(arguments, key, max_chars=None, allow_empty=False):
    value = arguments.get(key)
    if not isinstance(value, str):
        raise BadArguments(f"'{key}' must be a string")
    if not allow_empty and not value.strip():
        raise BadArguments(f"'{key}' must not be empty")
    if max_chars is not None and len(value) > max_chars:
        raise BadArguments(f"'{key}' must be at most {max_chars} characters")
    return value


def text_result(text, structured=None, is_error=False):
    result = {"content": [{"type": "text", "text": text}], "isError": is_error}
    if structured is not None:
        result["structuredContent"] = structured
    return result


def call_tool(store, name, arguments):
    if name == "add_note":
        title = require_string(arguments, "title", MAX_TITLE_CHARS)
        body = require_string(arguments, "body", MAX_BODY_CHARS, allow_empty=True)
        note = store.add(title, body)
        return text_result(f"Added note {note['id']}", {"id": note["id"]})
    if name == "search_notes":
        query = require_string(arguments, "query")
        notes = store.search(query)
        lines = [f"{n['id']}: {n['title']}\n{n['body']}" for n in notes]
        text = "\n\n".join(lines) if lines else f"No notes match '{query}'."
        return text_result(text, {"notes": notes})
    return None


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def handle_request(store, method, params):
    if method == "initialize":
        requested = params.get("protocolVersion")
        version = requested if requested in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[0]
        return {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": SERVER_INFO,
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        name = params.get("name")
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "'arguments' must be an object")
        try:
            result = call_tool(store, name, arguments)
        except BadArguments as error:
            # Bad arguments are a tool-level failure the model can read and correct (MCP spec:
            # tool execution errors go in the result with isError, not as JSON-RPC errors).
            return text_result(f"Invalid arguments for {name}: {error}", is_error=True)
        if result is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        return result
    raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")


def respond(message):
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def error_response(request_id, code, message):
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def handle_line(store, line):
    try:
        message = json.loads(line)
    except json.JSONDecodeError as error:
        respond(error_response(None, PARSE_ERROR, f"Parse error: {error.msg}"))
        return
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        respond(error_response(None, INVALID_REQUEST, "Invalid Request"))
        return
    method = message.get("method")
    if "id" not in message:
        # Notifications (notifications/initialized, notifications/cancelled, ...) get no answer.
        if method == "notifications/initialized":
            log("client initialized")
        return
    if not isinstance(method, str):
        # A response to a request we never send (we make no server-to-client requests).
        return
    request_id = message["id"]
    params = message.get("params") or {}
    try:
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "'params' must be an object")
        result = handle_request(store, method, params)
        respond({"jsonrpc": "2.0", "id": request_id, "result": result})
    except RpcError as error:
        respond(error_response(request_id, error.code, error.message))
    except OSError as error:
        log(f"storage error: {error}")
        respond(error_response(request_id, -32603, "Internal error: note storage failed"))
    except Exception as error:  # noqa: BLE001 - one bad request (a corrupt notes file) must not end the server
        log(f"internal error in {method}: {type(error).__name__}: {error}")
        respond(error_response(request_id, -32603, f"Internal error: {type(error).__name__}"))


def main():
    folder = os.environ.get("NOTES_DIR") or "./.data"
    store = NoteStore(folder)
    log(f"serving on stdio, notes in {os.path.abspath(store.path)}")
    for line in sys.stdin:
        if line.strip():
            handle_line(store, line)
    log("stdin closed, exiting")


if __name__ == "__main__":
    main()
