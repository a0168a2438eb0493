/**
 * The last lines a child wrote to stderr, kept to say why it exited: "exited with code 1" alone
 * does not tell an operator that the port was taken. 20 lines of at most 300 characters: enough
 * to reach past a stack trace to its message, and bounded whatever the child writes.
 */
const KEPT_LINES = 20;
const KEPT_CHARS = 300;

/** `Error: listen EADDRINUSE: …` (Node's uncaught error), `OSError: [Errno 98] …` (Python's). */
const ERROR_LINE = /\b[A-Za-z]*Error: /;
/** The banner Node prints after an uncaught error's trace. */
const NODE_BANNER = /^Node\.js v\d/;

export class StderrTail {
  private lines: string[] = [];

  push(line: string): void {
    const text = line.trim();
    if (text === '') return;
    this.lines.push(text.slice(0, KEPT_CHARS));
    if (this.lines.length > KEPT_LINES) this.lines.shift();
  }

  /** The line that says most about an exit: the last `…Error: …` line, else the last line. */
  cause(): string | undefined {
    const lines = this.lines.filter((l) => !NODE_BANNER.test(l));
    return lines.findLast((l) => ERROR_LINE.test(l)) ?? lines.at(-1);
  }

  /** `exited with code 1 (stderr: …)`, or the reason alone when the child wrote nothing. */
  explain(reason: string): string {
    const cause = this.cause();
    return cause === undefined ? reason : `${reason} (stderr: ${cause})`;
  }
}
