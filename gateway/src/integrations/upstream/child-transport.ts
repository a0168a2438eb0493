import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  type JSONRPCMessage,
  ReadBuffer,
  serializeMessage,
  type Transport,
} from '@modelcontextprotocol/client';
import { killProcessGroup } from './process-group.ts';

/** The MCP SDK's own stdio transports cap a message at 10 MB; so do we. */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

/**
 * An MCP transport over a child process we spawned ourselves (newline-delimited JSON-RPC on
 * stdin/stdout). The SDK's StdioClientTransport spawns for us, but it adds LOGNAME, SHELL, TERM
 * and USER to the environment and cannot put the child in its own process group; we need both
 * an exact environment and a group kill, so the supervisor spawns and this only speaks.
 */
export class ChildProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly buffer = new ReadBuffer();
  private closed = false;
  /** Bytes received since the last newline: one message may not grow past the cap. */
  private pending = 0;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  async start(): Promise<void> {
    this.child.stdout.on('data', (chunk: Buffer) => {
      const newline = chunk.lastIndexOf(10);
      this.pending = newline === -1 ? this.pending + chunk.length : chunk.length - newline - 1;
      if (this.pending > MAX_MESSAGE_BYTES) {
        // A server that never ends its line would otherwise grow our memory without bound.
        this.onerror?.(new Error(`a message from the server exceeded ${MAX_MESSAGE_BYTES} bytes`));
        this.child.stdout.removeAllListeners('data');
        killProcessGroup(this.child, 'SIGKILL');
        return;
      }
      this.buffer.append(chunk);
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.buffer.readMessage();
        } catch (error) {
          // A line that is not JSON-RPC: report it and keep reading the next one.
          this.onerror?.(error as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    });
    this.child.stdin.on('error', (error) => this.onerror?.(error));
    this.child.on('close', () => this.finish());
  }

  /** Waits for 'drain' when the pipe is full, so a slow server applies backpressure. */
  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed || !this.child.stdin.writable) {
        reject(new Error('the server process has exited'));
        return;
      }
      if (this.child.stdin.write(serializeMessage(message))) resolve();
      else this.child.stdin.once('drain', resolve);
    });
  }

  /** Ends the conversation; stopping the process is the supervisor's job. */
  async close(): Promise<void> {
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer.clear();
    this.onclose?.();
  }
}
