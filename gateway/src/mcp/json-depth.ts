/**
 * How deeply a JSON value nests, measured without recursion. JSON.parse takes any depth, but
 * JSON.stringify recurses and throws RangeError ("Maximum call stack size exceeded") past a
 * few thousand levels, so a value that deep cannot be passed on to an upstream or stored.
 */

/**
 * Levels of arrays and objects in a tool's arguments: 64 is far past any schema a model fills in
 * (real tools nest under 10), and far under the depth JSON.stringify fails at (~5,000 on Node's
 * default stack).
 */
export const MAX_ARGUMENT_DEPTH = 64;

/**
 * Levels of a tool result: results carry data and may nest more than arguments, but past
 * ~5,000 the gateway cannot serialize them for the agent (the SDK answered a bare -32603
 * "Maximum call stack size exceeded"); 1,000 is a fifth of that, found before sending.
 */
export const MAX_RESULT_DEPTH = 1000;

/** Whether `value` nests more than `max` levels of arrays or objects. Stops at the first one. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
