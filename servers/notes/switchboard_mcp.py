"""switchboard_mcp: a Switchboard integration in Python, standard library only.

Vendor it by copying this one file next to your server (Python 3.9+, no dependencies). It gives:

- ``Server``: an MCP server over stdio (newline-delimited JSON-RPC 2.0 on stdin/stdout, the MCP
  stdio transport). Register tools with ``@server.tool(...)`` and call ``server.run()``.
- builders of what Switchboard's handler tools answer (``trigger``, ``handler_result``, ...),
  with the field names of ``@switchboard/sdk`` (sdk/src/handlers.ts).
- ``Context``: the gateway's task context of a tools/call (``_meta["io.switchboard/task"]``).
- ``sign_standard`` / ``sign_github`` / ``sign_slack``: webhook signature headers, for tests that
  post deliveries the gateway must accept.

stdout carries protocol messages only: log with ``server.log(...)`` (stderr). Requests are
handled one at a time, in the order they arrive. Docs: docs/python-sdk.md in Switchboard.
"""

import base64
import hashlib
import hmac
import inspect
import json
import secrets
import sys
import threading
import time
import uuid

__all__ = [
    "PROTOCOL_VERSIONS",
    "MAX_LINE_BYTES",
    "TASK_META_KEY",
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "RpcError",
    "Server",
    "Context",
    "TaskContext",
    "WebhookDelivery",
    "tool_result",
    "dispatch_target",
    "execution",
    "trigger",
    "webhook_response",
    "handler_result",
    "new_standard_secret",
    "sign_standard",
    "sign_github",
    "sign_slack",
]

__version__ = "0.1.0"

# Newest first: the first is the answer to a client asking for a version not listed here.
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")

# One JSON-RPC message (one line) is refused above 4 MiB: without a bound, a peer that never
# sends a newline grows the process until it is killed. 4 MiB holds a webhook delivery at the
# gateway's default webhook maxBodyBytes (1 MiB) even if JSON escaping doubles it, with room to
# spare; an integration raising maxBodyBytes raises this too: Server(max_line_bytes=...).
MAX_LINE_BYTES = 4 * 1024 * 1024

# The `_meta` key under which the gateway sends a stdio server the task a request belongs to
# (gateway/src/mcp/forward.ts TASK_META_KEY). Absent on the gateway's own handler calls.
TASK_META_KEY = "io.switchboard/task"

# JSON-RPC 2.0 error codes (spec section 5.1).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class RpcError(Exception):
    """Raise from a tool to answer a JSON-RPC error instead of an ``isError`` result (for a
    failure that is not the model's to fix: storage down, a corrupt file)."""

    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self):
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class TaskContext:
    """The Switchboard task a tools/call belongs to: ``id`` and, for a task in a session,
    ``session_id`` (else None)."""

    __slots__ = ("id", "session_id")

    def __init__(self, task_id, session_id=None):
        self.id = task_id
        self.session_id = session_id

    def __repr__(self):
        return f"TaskContext(id={self.id!r}, session_id={self.session_id!r})"

    def __eq__(self, other):
        return (
            isinstance(other, TaskContext)
            and other.id == self.id
            and other.session_id == self.session_id
        )


class Context:
    """What a tool gets besides its arguments (declare a second parameter to receive it)."""

    def __init__(self, server, request_id, tool, meta):
        self.server = server
        self.request_id = request_id
        self.tool = tool
        #: The request's ``params._meta`` (a dict, empty when the request had none).
        self.meta = meta

    @property
    def task(self):
        """The task this call was made for (a TaskContext), or None: an agent's call through the
        gateway carries one; the gateway's own handler calls (webhook, schedule, dispatcher)
        and calls from other clients do not."""
        raw = self.meta.get(TASK_META_KEY)
        if not isinstance(raw, dict) or not isinstance(raw.get("taskId"), str):
            return None
        session = raw.get("sessionId")
        return TaskContext(raw["taskId"], session if isinstance(session, str) else None)

    @property
    def traceparent(self):
        """The caller's W3C trace context (SEP-414), for a span of your own; or None."""
        value = self.meta.get("traceparent")
        return value if isinstance(value, str) else None

    @property
    def progress_token(self):
        return self.meta.get("progressToken")

    def progress(self, progress, total=None, message=None):
        """Sends notifications/progress when the caller asked for it (else does nothing)."""
        token = self.progress_token
        if token is None:
            return
        params = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self.server.notify("notifications/progress", params)

    def log(self, message):
        self.server.log(message)


class WebhookDelivery:
    """The arguments of a webhook handler (sdk webhookInputSchema): ``endpoint`` (the manifest
    webhook name), ``headers`` (lowercased names), ``body`` (the raw body, already
    signature-checked), ``delivery_id`` (what the gateway deduplicates on)."""

    def __init__(self, arguments):
        self.endpoint = arguments.get("endpoint")
        self.headers = arguments.get("headers") or {}
        self.body = arguments.get("body") or ""
        self.delivery_id = arguments.get("deliveryId")

    def json(self):
        """The body parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.body)

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


# --- tool results -------------------------------------------------------------------------


class _ToolResult(dict):
    """A complete CallToolResult, passed through as is (made by tool_result)."""


def tool_result(content, structured=None, is_error=False):
    """A complete tool result: ``content`` is text or a list of content blocks; ``structured``
    becomes ``structuredContent``. Use it for text and structured content that differ."""
    result = _ToolResult(content=_content_blocks(content), isError=bool(is_error))
    if structured is not None:
        result["structuredContent"] = structured
    return result


def _content_blocks(value):
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    blocks = []
    for item in value:
        if isinstance(item, str):
            blocks.append({"type": "text", "text": item})
        elif isinstance(item, dict) and isinstance(item.get("type"), str):
            blocks.append(item)
        else:
            raise TypeError(f"a content block must be a string or a dict with a type, got {item!r}")
    return blocks


def _to_result(value):
    """What a tool returned, as a CallToolResult: str → one text block; dict → structuredContent
    (and the same JSON as text, as MCP advises for older clients); list → content blocks;
    None → no content; tool_result(...) → as is."""
    if isinstance(value, _ToolResult):
        return dict(value)
    if value is None:
        return {"content": [], "isError": False}
    if isinstance(value, str):
        return {"content": _content_blocks(value), "isError": False}
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
        return {"content": _content_blocks(text), "structuredContent": value, "isError": False}
    if isinstance(value, (list, tuple)):
        return {"content": _content_blocks(value), "isError": False}
    raise TypeError(f"a tool must return str, dict, list or None, not {type(value).__name__}")


# --- handler results (sdk/src/handlers.ts) -----------------------------------------------


def _non_empty(value, what):
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def dispatch_target(type, config=None):
    """Where a session's results go: a manifest dispatcher ``type`` (or a built-in: webhook,
    internal, none) and its ``config`` (sdk dispatchTargetSchema)."""
    target = {"type": _non_empty(type, "dispatch type")}
    if config is not None:
        if not isinstance(config, dict):
            raise ValueError(f"dispatch config must be a dict, got {config!r}")
        target["config"] = config
    return target


def execution(preamble=None, tools=None, skills=None, model=None, profile=None):
    """How a trigger's task runs (sdk executionSchema): each field narrows or tunes the
    profile's defaults; None fields are left out."""
    out = {}
    if preamble is not None:
        out["preamble"] = preamble
    if tools is not None:
        out["tools"] = [_non_empty(t, "a tool pattern") for t in tools]
    if skills is not None:
        out["skills"] = [_non_empty(s, "a skill name") for s in skills]
    if model is not None:
        out["model"] = _non_empty(model, "model")
    if profile is not None:
        out["profile"] = _non_empty(profile, "profile")
    return out


def trigger(message, session_key, dispatch=None, run=True, execution=None):
    """One event → one message in the session ``session_key`` (get-or-create) and, unless
    ``run`` is False, a task to answer it (sdk triggerSchema). ``dispatch``: a dispatcher type
    (str) or a dispatch_target(...); ``execution``: an execution(...) dict."""
    session = {"key": _non_empty(session_key, "session_key")}
    if dispatch is not None:
        session["dispatch"] = dispatch_target(dispatch) if isinstance(dispatch, str) else dispatch
    out = {"session": session, "message": _non_empty(message, "message"), "run": bool(run)}
    if execution is not None:
        out["execution"] = execution
    return out


def webhook_response(status, body=None, headers=None):
    """The HTTP answer of a ``sync`` webhook (sdk webhookResponseSchema): a string body is sent
    as is, anything else as JSON."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status from 100 to 599, got {status!r}")
    out = {"status": status}
    if headers is not None:
        out["headers"] = {str(k): str(v) for k, v in headers.items()}
    if body is not None:
        out["body"] = body
    return out


def handler_result(triggers=(), response=None):
    """What a webhook or schedule handler returns (sdk handlerResultSchema): ``triggers``
    (empty: ignore the event) and, for a ``sync`` webhook, ``response``
    (a webhook_response(...))."""
    out = {"triggers": list(triggers)}
    if response is not None:
        out["response"] = response
    return out


# --- webhook signatures (gateway/src/webhooks/signatures.ts) ------------------------------


def _bytes(body):
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def new_standard_secret():
    """A fresh Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _standard_key(secret):
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    return base64.b64decode(raw, validate=True)


def sign_standard(secret, body, msg_id=None, timestamp=None):
    """Standard Webhooks headers for ``body``: ``webhook-signature: v1,<base64 HMAC-SHA256 of
    "<id>.<timestamp>.<body>">`` keyed by the base64-decoded secret (``whsec_`` prefix optional).
    The gateway accepts a timestamp within 5 minutes of its clock."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(time.time()) if timestamp is None else int(timestamp))
    signed = f"{msg_id}.{timestamp}.".encode("utf-8") + _bytes(body)
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }


def sign_github(secret, body, delivery_id=None, event=None):
    """GitHub headers: ``x-hub-signature-256: sha256=<hex HMAC-SHA256 of body>`` keyed by the
    secret's UTF-8 bytes, and ``x-github-delivery`` (the gateway requires one)."""
    digest = hmac.new(secret.encode("utf-8"), _bytes(body), hashlib.sha256).hexdigest()
    headers = {
        "x-hub-signature-256": "sha256=" + digest,
        "x-github-delivery": delivery_id or str(uuid.uuid4()),
    }
    if event is not None:
        headers["x-github-event"] = event
    return headers


def sign_slack(secret, body, timestamp=None):
    """Slack headers: ``x-slack-signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">`` and
    ``x-slack-request-timestamp`` (within 5 minutes of the gateway's clock)."""
    timestamp = str(int(time.time()) if timestamp is None else int(timestamp))
    signed = f"v0:{timestamp}:".encode("utf-8") + _bytes(body)
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return {"x-slack-signature": "v0=" + digest, "x-slack-request-timestamp": timestamp}


# --- the server ---------------------------------------------------------------------------


class _Tool:
    def __init__(self, fn, definition, hidden, wants_context):
        self.fn = fn
        self.definition = definition
        self.hidden = hidden
        self.wants_context = wants_context


def _wants_context(fn):
    """True when ``fn`` takes a second positional parameter (the Context)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    has_varargs = any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params)
    return len(positional) >= 2 or has_varargs


class Server:
    """An MCP server over stdio. ``name`` and ``version`` are its serverInfo."""

    def __init__(self, name, version="0.1.0", instructions=None, max_line_bytes=MAX_LINE_BYTES):
        self.name = name
        self.version = version
        self.instructions = instructions
        self.max_line_bytes = max_line_bytes
        self._tools = {}
        self._resources = {}
        self._out = None
        self._out_lock = threading.Lock()

    # registration

    def tool(
        self,
        name=None,
        *,
        description,
        input_schema=None,
        title=None,
        output_schema=None,
        annotations=None,
        hidden=False,
    ):
        """Registers the decorated function as a tool. It takes the arguments dict (and, with a
        second parameter, the Context) and returns str, dict (structuredContent), a list of
        content blocks, None or tool_result(...). An exception becomes an ``isError: true``
        result with its message; RpcError a JSON-RPC error.

        ``hidden=True`` marks a handler (webhook, schedule, dispatcher): it is listed like any
        tool (the gateway checks the server lists it), and must be named in the manifest's
        ``tools.hidden`` so the gateway keeps it from agents."""

        def register(fn):
            tool_name = name or fn.__name__
            if tool_name in self._tools:
                raise ValueError(f"tool {tool_name!r} is registered twice")
            definition = {
                "name": tool_name,
                "description": description,
                "inputSchema": input_schema or {"type": "object"},
            }
            if title is not None:
                definition["title"] = title
            if output_schema is not None:
                definition["outputSchema"] = output_schema
            if annotations is not None:
                definition["annotations"] = annotations
            self._tools[tool_name] = _Tool(fn, definition, hidden, _wants_context(fn))
            return fn

        return register

    def resource(self, uri, *, name=None, description=None, mime_type="text/plain"):
        """Registers the decorated function (no arguments, or the Context) as a resource; it
        returns str (text) or bytes (sent as base64 blob)."""

        def register(fn):
            definition = {"uri": uri, "name": name or fn.__name__, "mimeType": mime_type}
            if description is not None:
                definition["description"] = description
            self._resources[uri] = (fn, definition)
            return fn

        return register

    @property
    def hidden_tools(self):
        """Names of the tools registered with hidden=True (the manifest's tools.hidden)."""
        return [n for n, t in self._tools.items() if t.hidden]

    # output

    def log(self, message):
        print(f"{self.name}: {message}", file=sys.stderr, flush=True)

    def _write(self, message):
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        with self._out_lock:
            self._out.write(data)
            self._out.flush()

    def notify(self, method, params):
        """Sends a JSON-RPC notification to the client (only while serving)."""
        if self._out is not None:
            self._write({"jsonrpc": "2.0", "method": method, "params": params})

    # dispatch

    def handle(self, message):
        """One decoded JSON-RPC message → the response (a dict) or None (notifications,
        responses). Usable without stdio, e.g. in unit tests."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return _error(None, INVALID_REQUEST, "Invalid Request")
        method = message.get("method")
        if "id" not in message:
            if method == "notifications/initialized":
                self.log("client initialized")
            return None  # a notification (initialized, cancelled, ...): no answer
        request_id = message["id"]
        if not isinstance(method, str):
            # A response to a request we never send (this server makes none).
            return None
        if request_id is None or isinstance(request_id, (bool, dict, list, float)):
            return _error(None, INVALID_REQUEST, "Invalid Request: id must be a string or integer")
        params = message.get("params")
        if params is None:
            params = {}
        try:
            if not isinstance(params, dict):
                raise RpcError(INVALID_PARAMS, "'params' must be an object")
            result = self._dispatch(request_id, method, params)
            return {"jsonrpc": "2.0", "id": request_id, "result": result}
        except RpcError as error:
            return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}
        except Exception as error:  # noqa: BLE001 - one bad request must not end the server
            self.log(f"internal error in {method}: {type(error).__name__}: {error}")
            return _error(request_id, INTERNAL_ERROR, f"Internal error: {type(error).__name__}")

    def _dispatch(self, request_id, method, params):
        if method == "initialize":
            return self._initialize(params)
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": [t.definition for t in self._tools.values()]}
        if method == "tools/call":
            return self._call_tool(request_id, params)
        if self._resources and method == "resources/list":
            return {"resources": [d for _, d in self._resources.values()]}
        if self._resources and method == "resources/read":
            return self._read_resource(request_id, params)
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

    def _initialize(self, params):
        requested = params.get("protocolVersion")
        version = requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
        capabilities = {"tools": {"listChanged": False}}
        if self._resources:
            capabilities["resources"] = {"listChanged": False, "subscribe": False}
        result = {
            "protocolVersion": version,
            "capabilities": capabilities,
            "serverInfo": {"name": self.name, "version": self.version},
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    def _call_tool(self, request_id, params):
        name = params.get("name")
        tool = self._tools.get(name) if isinstance(name, str) else None
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "'arguments' must be an object")
        meta = params.get("_meta")
        context = Context(self, request_id, name, meta if isinstance(meta, dict) else {})
        try:
            value = tool.fn(arguments, context) if tool.wants_context else tool.fn(arguments)
            result = _to_result(value)
            # Checked here, so an unserializable answer is the tool's isError, not a crash later.
            json.dumps(result)
            return result
        except RpcError:
            raise
        except Exception as error:  # noqa: BLE001 - a failing tool is a result the model reads
            self.log(f"tool {name} failed: {type(error).__name__}: {error}")
            text = str(error) or type(error).__name__
            return {"content": [{"type": "text", "text": text}], "isError": True}

    def _read_resource(self, request_id, params):
        uri = params.get("uri")
        entry = self._resources.get(uri) if isinstance(uri, str) else None
        if entry is None:
            # -32002: "Resource not found" in the MCP specification.
            raise RpcError(-32002, f"Resource not found: {uri}")
        fn, definition = entry
        meta = params.get("_meta")
        context = Context(self, request_id, None, meta if isinstance(meta, dict) else {})
        value = fn(context) if _takes_one(fn) else fn()
        item = {"uri": uri, "mimeType": definition["mimeType"]}
        if isinstance(value, (bytes, bytearray)):
            item["blob"] = base64.b64encode(bytes(value)).decode("ascii")
        else:
            item["text"] = str(value)
        return {"contents": [item]}

    # the stdio loop

    def handle_line(self, line):
        """One line (bytes or str) → the response to write, or None."""
        if isinstance(line, (bytes, bytearray)):
            try:
                line = bytes(line).decode("utf-8")
            except UnicodeDecodeError:
                return _error(None, PARSE_ERROR, "Parse error: not UTF-8")
        if not line.strip():
            return None
        try:
            message = json.loads(line)
        except ValueError as error:
            return _error(None, PARSE_ERROR, f"Parse error: {getattr(error, 'msg', error)}")
        return self.handle(message)

    def serve(self, stdin=None, stdout=None):
        """Reads requests from ``stdin`` (a binary stream; default sys.stdin.buffer) until it
        closes, answering on ``stdout`` (default sys.stdout.buffer)."""
        stdin = stdin if stdin is not None else sys.stdin.buffer
        self._out = stdout if stdout is not None else sys.stdout.buffer
        limit = self.max_line_bytes
        try:
            while True:
                line = stdin.readline(limit + 1)
                if not line:
                    break
                if len(line) > limit and not line.endswith(b"\n"):
                    # Too long: drop the rest of the line without holding it, answer, go on.
                    while True:
                        rest = stdin.readline(1024 * 1024)
                        if not rest or rest.endswith(b"\n"):
                            break
                    self.log(f"refused a message over {limit} bytes")
                    self._write(
                        _error(None, INVALID_REQUEST, f"Invalid Request: message over {limit} bytes")
                    )
                    continue
                response = self.handle_line(line)
                if response is not None:
                    self._write(response)
        except BrokenPipeError:
            pass  # the client went away: nothing left to answer
        finally:
            self._out = None

    def run(self):
        """Serves on stdin/stdout until stdin closes (what ``python3 server.py`` should call)."""
        self.log(f"serving {len(self._tools)} tool(s) on stdio")
        try:
            self.serve()
        except KeyboardInterrupt:
            pass
        self.log("stdin closed, exiting")


def _takes_one(fn):
    try:
        return len(inspect.signature(fn).parameters) >= 1
    except (TypeError, ValueError):
        return False


def _error(request_id, code, message):
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
