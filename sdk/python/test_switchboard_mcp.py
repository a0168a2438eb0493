"""Tests of switchboard_mcp: python3 -B -m unittest discover -s sdk/python

Most tests drive a real server process over stdio: this file run as a script with --serve is
that server (so the server under test and its tests stay in one place).
"""

import json
import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import switchboard_mcp as sb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def build_server():
    server = sb.Server("test-server", version="1.2.3", instructions="for tests")

    @server.tool(description="Echo the text", input_schema={
        "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
    def echo(arguments):
        return arguments["text"]

    @server.tool(description="Structured answer")
    def structured(arguments):
        return {"n": arguments.get("n", 0) + 1}

    @server.tool(description="Content blocks")
    def blocks(arguments):
        return ["one", {"type": "text", "text": "two"}]

    @server.tool(description="Always fails")
    def boom(arguments):
        raise RuntimeError("the disk is on fire")

    @server.tool(description="A protocol error")
    def protocol(arguments):
        raise sb.RpcError(sb.INTERNAL_ERROR, "storage is down")

    @server.tool("who_am_i", description="The task context of the call")
    def who(arguments, context):
        task = context.task
        return {
            "task": None if task is None else {"id": task.id, "session": task.session_id},
            "traceparent": context.traceparent,
            "tool": context.tool,
        }

    @server.tool(description="Webhook handler", hidden=True, input_schema={"type": "object"})
    def on_webhook(arguments):
        delivery = sb.WebhookDelivery(arguments)
        event = delivery.json()
        return sb.handler_result(
            [sb.trigger(f"event {event['n']}", session_key=f"test:{event['n']}", dispatch="test")],
            response=sb.webhook_response(200, {"ok": True}),
        )

    @server.tool(description="Reports progress")
    def slow(arguments, context):
        context.progress(1, total=2, message="half way")
        return "done"

    @server.resource("test://readme", description="A resource")
    def readme():
        return "hello"

    return server


class Wire:
    """A server process and the lines it writes."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [sys.executable, "-B", os.path.join(HERE, "test_switchboard_mcp.py"), "--serve", *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("server closed stdout: " + self.proc.stderr.read().decode())
        return json.loads(line)

    def ask(self, method, params=None, request_id=1):
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send_raw((json.dumps(message) + "\n").encode())
        return self.read()

    def close(self):
        self.proc.stdin.close()
        code = self.proc.wait(timeout=10)
        stderr = self.proc.stderr.read().decode()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, stderr


class OverStdio(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wire = Wire()
        cls.init = cls.wire.ask(
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
        )
        cls.wire.send_raw(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

    @classmethod
    def tearDownClass(cls):
        code, stderr = cls.wire.close()
        assert code == 0, stderr

    def call(self, name, arguments=None, meta=None, request_id=7):
        params = {"name": name, "arguments": arguments or {}}
        if meta is not None:
            params["_meta"] = meta
        return self.wire.ask("tools/call", params, request_id)

    def test_initialize_echoes_a_supported_version(self):
        result = self.init["result"]
        self.assertEqual(result["protocolVersion"], "2025-06-18")
        self.assertEqual(result["serverInfo"], {"name": "test-server", "version": "1.2.3"})
        self.assertEqual(result["instructions"], "for tests")
        self.assertIn("resources", result["capabilities"])
        other = self.wire.ask("initialize", {"protocolVersion": "2099-01-01"}, 2)
        self.assertEqual(other["result"]["protocolVersion"], "2025-11-25")

    def test_ping_and_unknown_method(self):
        self.assertEqual(self.wire.ask("ping", None, "p"), {"jsonrpc": "2.0", "id": "p", "result": {}})
        answer = self.wire.ask("prompts/list", {}, 3)
        self.assertEqual(answer["error"], {"code": -32601, "message": "Method not found: prompts/list"})

    def test_lists_tools_registered_by_decorator(self):
        tools = self.wire.ask("tools/list", {}, 4)["result"]["tools"]
        names = [t["name"] for t in tools]
        self.assertEqual(
            names,
            ["echo", "structured", "blocks", "boom", "protocol", "who_am_i", "on_webhook", "slow"],
        )
        echo = tools[0]
        self.assertEqual(echo["description"], "Echo the text")
        self.assertEqual(echo["inputSchema"]["required"], ["text"])
        self.assertEqual(tools[1]["inputSchema"], {"type": "object"})

    def test_results_from_str_dict_and_list(self):
        self.assertEqual(
            self.call("echo", {"text": "héllo"})["result"],
            {"content": [{"type": "text", "text": "héllo"}], "isError": False},
        )
        structured = self.call("structured", {"n": 41})["result"]
        self.assertEqual(structured["structuredContent"], {"n": 42})
        self.assertEqual(json.loads(structured["content"][0]["text"]), {"n": 42})
        self.assertEqual(
            [b["text"] for b in self.call("blocks")["result"]["content"]], ["one", "two"]
        )

    def test_an_exception_is_an_error_result(self):
        result = self.call("boom")["result"]
        self.assertTrue(result["isError"])
        self.assertEqual(result["content"], [{"type": "text", "text": "the disk is on fire"}])
        # A missing argument (KeyError) too: the model reads it and retries.
        self.assertTrue(self.call("echo", {})["result"]["isError"])

    def test_rpc_error_and_unknown_tool_are_protocol_errors(self):
        self.assertEqual(
            self.call("protocol", request_id=8)["error"], {"code": -32603, "message": "storage is down"}
        )
        self.assertEqual(self.call("nope")["error"]["code"], -32602)
        bad = self.wire.ask("tools/call", {"name": "echo", "arguments": [1]}, 9)
        self.assertEqual(bad["error"]["code"], -32602)

    def test_task_context_from_meta(self):
        meta = {
            "io.switchboard/task": {"taskId": "tsk_12", "sessionId": "ses_34"},
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        }
        result = self.call("who_am_i", meta=meta)["result"]["structuredContent"]
        self.assertEqual(result["task"], {"id": "tsk_12", "session": "ses_34"})
        self.assertEqual(result["traceparent"], meta["traceparent"])
        self.assertEqual(result["tool"], "who_am_i")
        without = self.call("who_am_i")["result"]["structuredContent"]
        self.assertIsNone(without["task"])
        no_session = self.call("who_am_i", meta={"io.switchboard/task": {"taskId": "tsk_9"}})
        self.assertEqual(no_session["result"]["structuredContent"]["task"], {"id": "tsk_9", "session": None})

    def test_a_webhook_handler_answers_a_handler_result(self):
        args = {"endpoint": "events", "headers": {}, "body": '{"n": 12}', "deliveryId": "d-1"}
        result = self.call("on_webhook", args)["result"]
        self.assertEqual(
            result["structuredContent"],
            {
                "triggers": [
                    {"session": {"key": "test:12", "dispatch": {"type": "test"}}, "message": "event 12", "run": True}
                ],
                "response": {"status": 200, "body": {"ok": True}},
            },
        )

    def test_progress_is_sent_when_asked(self):
        self.wire.send_raw(
            (json.dumps({"jsonrpc": "2.0", "id": 11, "method": "tools/call",
                         "params": {"name": "slow", "arguments": {}, "_meta": {"progressToken": "pt"}}}) + "\n").encode()
        )
        note = self.wire.read()
        self.assertEqual(note["method"], "notifications/progress")
        self.assertEqual(note["params"], {"progressToken": "pt", "progress": 1, "total": 2, "message": "half way"})
        self.assertEqual(self.wire.read()["result"]["content"][0]["text"], "done")

    def test_resources_when_registered(self):
        listed = self.wire.ask("resources/list", {}, 12)["result"]["resources"]
        self.assertEqual(listed[0]["uri"], "test://readme")
        read = self.wire.ask("resources/read", {"uri": "test://readme"}, 13)["result"]
        self.assertEqual(read["contents"], [{"uri": "test://readme", "mimeType": "text/plain", "text": "hello"}])
        self.assertEqual(self.wire.ask("resources/read", {"uri": "test://x"}, 14)["error"]["code"], -32002)

    def test_bad_lines_are_answered_and_the_server_goes_on(self):
        for raw in (b"{not json\n", b"\xff\xfe\n", b"[1,2]\n", b'{"jsonrpc":"1.0","id":1,"method":"ping"}\n'):
            self.wire.send_raw(raw)
            answer = self.wire.read()
            self.assertIsNone(answer["id"])
            self.assertIn(answer["error"]["code"], (-32700, -32600))
        self.wire.send_raw(b"{not json\n")
        self.assertEqual(self.wire.read()["error"]["code"], -32700)
        # Blank lines and responses to requests it never sent get no answer.
        self.wire.send_raw(b'\n{"jsonrpc":"2.0","id":5,"result":{}}\n')
        self.assertEqual(self.wire.ask("ping", None, 15)["id"], 15)

    def test_an_oversized_line_is_refused_and_the_server_goes_on(self):
        body = b"x" * (sb.MAX_LINE_BYTES + 10)
        self.wire.send_raw(b'{"jsonrpc":"2.0","id":99,"method":"ping","params":{"pad":"' + body + b'"}}\n')
        answer = self.wire.read()
        self.assertEqual(answer["id"], None)
        self.assertEqual(answer["error"]["code"], -32600)
        self.assertIn("over 4194304 bytes", answer["error"]["message"])
        self.assertEqual(self.wire.ask("ping", None, 16)["result"], {})
        # Just under the bound is fine.
        pad = "y" * (sb.MAX_LINE_BYTES - 200)
        self.assertEqual(self.wire.ask("ping", {"pad": pad}, 17)["result"], {})


class Process(unittest.TestCase):
    def test_stdout_carries_only_json_and_the_process_exits_0(self):
        wire = Wire()
        wire.ask("initialize", {"protocolVersion": "2025-03-26"})
        code, stderr = wire.close()
        self.assertEqual(code, 0)
        self.assertIn("test-server: serving 8 tool(s) on stdio", stderr)
        self.assertIn("stdin closed", stderr)


class InProcess(unittest.TestCase):
    def test_handle_without_stdio(self):
        server = sb.Server("plain")
        self.assertEqual(
            server.handle({"jsonrpc": "2.0", "id": 1, "method": "resources/list"})["error"]["code"], -32601
        )
        init = server.handle({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
        self.assertEqual(init["result"]["capabilities"], {"tools": {"listChanged": False}})
        self.assertIsNone(server.handle({"jsonrpc": "2.0", "method": "notifications/cancelled"}))
        self.assertEqual(server.handle({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"})["id"], None)

    def test_decorator_registration(self):
        server = sb.Server("reg")

        @server.tool(description="d", hidden=True)
        def deliver(arguments, context):
            return None

        @server.tool("visible-one", description="v")
        def anything(arguments):
            return "x"

        self.assertEqual(server.hidden_tools, ["deliver"])
        with self.assertRaises(ValueError):
            server.tool("deliver", description="again")(lambda a: a)
        answer = server.handle(
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "deliver"}}
        )
        self.assertEqual(answer["result"], {"content": [], "isError": False})

    def test_handler_builders(self):
        t = sb.trigger(
            "PR #42 opened",
            session_key="github:acme/api",
            dispatch=sb.dispatch_target("github", {"repo": "acme/api", "number": 42}),
            run=False,
            execution=sb.execution(preamble="Review", tools=["github:*"], profile="reviewer"),
        )
        self.assertEqual(
            t,
            {
                "session": {"key": "github:acme/api", "dispatch": {"type": "github", "config": {"repo": "acme/api", "number": 42}}},
                "message": "PR #42 opened",
                "run": False,
                "execution": {"preamble": "Review", "tools": ["github:*"], "profile": "reviewer"},
            },
        )
        self.assertEqual(sb.handler_result(), {"triggers": []})
        with self.assertRaises(ValueError):
            sb.trigger("", session_key="k")
        with self.assertRaises(ValueError):
            sb.webhook_response(99)
        with self.assertRaises(ValueError):
            sb.webhook_response(True)


class Signatures(unittest.TestCase):
    """Published vectors of each scheme (also what gateway/src/webhooks/signatures.ts computes:
    test/integration/python-sdk.test.ts checks fresh signatures against it)."""

    def test_standard_webhooks_vector(self):
        headers = sb.sign_standard(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", '{"test": 2432232314}',
            msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330,
        )
        self.assertEqual(headers, {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        })
        # The base64 alone is the same secret.
        same = sb.sign_standard("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"test": 2432232314}',
                                msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330)
        self.assertEqual(same, headers)
        self.assertTrue(sb.new_standard_secret().startswith("whsec_"))

    def test_github_vector(self):
        headers = sb.sign_github("It's a Secret to Everybody", "Hello, World!", delivery_id="d-1")
        self.assertEqual(headers["x-hub-signature-256"],
                         "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        self.assertEqual(headers["x-github-delivery"], "d-1")

    def test_slack_vector(self):
        body = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
                "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
                "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
                "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
        headers = sb.sign_slack("8f742231b10e8888abcd99yyyzzz85a5", body, timestamp=1531420618)
        self.assertEqual(headers, {
            "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            "x-slack-request-timestamp": "1531420618",
        })


class Vendored(unittest.TestCase):
    def test_the_notes_copy_is_identical(self):
        root = os.path.dirname(os.path.dirname(HERE))
        with open(os.path.join(HERE, "switchboard_mcp.py"), "rb") as a, open(
            os.path.join(root, "servers", "notes", "switchboard_mcp.py"), "rb"
        ) as b:
            self.assertEqual(a.read(), b.read(), "servers/notes/switchboard_mcp.py drifted: copy sdk/python's")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        build_server().run()
    else:
        unittest.main()
