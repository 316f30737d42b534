// The bad-input corpus (test/fixtures/bad/): each file says what must become of it in comment
// lines at its top —
//   # kind: inventory                  an inventory (default: a playbook)
//   # expect: error LINE:COL MESSAGE   a problem validate must report there (MESSAGE: its start)
//   # expect: valid                    legal input; the lab test runs it and proves it harmless
//   # lab: fails                       …and the play fails on the host (the kernel refuses the value)
//   # literal: PATH = "JSON"           …and PATH on the host then holds exactly that text
//   # exists: PATH                     …and PATH exists on the host (a name made of shell syntax)
// PATH may be a JSON string when it holds spaces or quotes.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CORPUS_DIR = join(import.meta.dirname, '../fixtures/bad');

export interface ExpectedProblem {
  line: number;
  column: number;
  message: string;
}

export interface CorpusEntry {
  name: string;
  file: string;
  kind: 'playbook' | 'inventory';
  valid: boolean;
  problems: ExpectedProblem[];
  labFails: boolean;
  literals: { path: string; content: string }[];
  exists: string[];
}

export function readCorpus(): CorpusEntry[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((name) => {
      const file = join(CORPUS_DIR, name);
      const head: string[] = [];
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.startsWith('#')) break;
        head.push(line);
      }
      const entry: CorpusEntry = {
        name,
        file,
        kind: head.includes('# kind: inventory') ? 'inventory' : 'playbook',
        valid: head.includes('# expect: valid'),
        problems: [],
        labFails: head.includes('# lab: fails'),
        literals: [],
        exists: [],
      };
      for (const line of head) {
        const error = /^# expect: error (\d+):(\d+) (.+)$/.exec(line);
        if (error) entry.problems.push({ line: Number(error[1]), column: Number(error[2]), message: error[3] });
        const literal = /^# literal: ("(?:[^"\\]|\\.)*"|\S+) = (".*")$/.exec(line);
        const exists = /^# exists: (".*"|\S+)$/.exec(line);
        if (exists) entry.exists.push(exists[1].startsWith('"') ? (JSON.parse(exists[1]) as string) : exists[1]);
        if (literal) {
          const path = literal[1].startsWith('"') ? (JSON.parse(literal[1]) as string) : literal[1];
          entry.literals.push({ path, content: JSON.parse(literal[2]) as string });
        }
      }
      if (entry.valid === entry.problems.length > 0)
        throw new Error(`${name}: say either "# expect: valid" or its "# expect: error" lines`);
      return entry;
    });
}
