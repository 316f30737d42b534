// --json: one machine-readable report at the end; nothing else on stdout.

import type { Renderer } from './plain.js';

export function jsonRenderer(out: (s: string) => void): Renderer {
  return {
    handle(e) {
      if (e.type === 'run-end') out(JSON.stringify(e.report, null, 2));
    },
    done: async () => undefined,
  };
}
