// Issue 15, finding 11: editing `changes[].data.content` of a saved plan put `token=EVIL` on the
// host, because apply runs a plan's changes as written and its staleness check looks only at the
// host. Plans are signed now: an edited plan is refused before anything connects.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile } from '../play.js';

const lab = useLab({ hosts: 2 });
const TOKEN = '/etc/hvtune-token.conf';
const PLAYBOOK = `
- name: token
  hosts: lab
  tasks:
    - name: token file
      file: { path: ${TOKEN}, content: "token=GOOD\\n", mode: "0600" }
`;

type PlanJson = {
  hosts: Record<string, { tasks: { changes: { target: string; data: { content?: string } }[] }[] }>;
};

/** Edits a user might make to a saved plan, each of which apply must refuse. */
const EDITS: [what: string, edit: (plan: PlanJson, hv1: string, hv2: string) => void][] = [
  ['the content a file gets', (p, hv1) => void (p.hosts[hv1].tasks[0].changes[0].data.content = 'token=EVIL-FROM-TAMPERED-PLAN\n')],
  [
    'the host it is for',
    (p, hv1, hv2) => {
      p.hosts[hv2] = p.hosts[hv1];
      delete p.hosts[hv1];
    },
  ],
  ['the target of a change', (p, hv1) => void (p.hosts[hv1].tasks[0].changes[0].target = '/etc/hvtune-other.conf')],
];

describe('a saved plan edited after it was made', () => {
  it('is refused, whatever was edited, and changes nothing; the plan as made applies', async () => {
    const [hv1, hv2] = lab().hosts.map((h) => h.name);
    const dir = mkdtempSync(join(lab().dir, 'tampered-'));
    const planFile = join(dir, 'plan.json');
    const made = await hvtune([
      'plan',
      labFile(lab(), 'site.yml', PLAYBOOK),
      '-i',
      lab().inventoryPath,
      '--known-hosts',
      lab().knownHostsPath,
      '--limit',
      hv1,
      '-o',
      planFile,
    ]);
    expect(made.code, made.stdout + made.stderr).toBe(0); // saved (Terraform's plan -out)
    const original = readFileSync(planFile, 'utf8');
    const apply = (file: string) => hvtune(['apply', file, '--known-hosts', lab().knownHostsPath, '--records', join(dir, 'runs')]);

    for (const [what, edit] of EDITS) {
      const plan = JSON.parse(original) as PlanJson;
      edit(plan, hv1, hv2);
      const tampered = join(dir, `tampered.json`);
      writeFileSync(tampered, JSON.stringify(plan, null, 2));
      const r = await apply(tampered);
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stderr, what).toContain(
        `${tampered}: the plan was changed after hvtune signed it (its signature does not match its contents): make it again with hvtune plan -o; nothing was applied`,
      );
      expect(await lab().readFile(hv1, TOKEN), what).toBeNull();
      expect(await lab().readFile(hv2, TOKEN), what).toBeNull();
    }

    // the signature taken off: refused as unsigned
    const unsigned = JSON.parse(original) as Record<string, unknown>;
    delete unsigned.signature;
    writeFileSync(join(dir, 'unsigned.json'), JSON.stringify(unsigned, null, 2));
    const r = await apply(join(dir, 'unsigned.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the plan is not signed');
    expect(await lab().readFile(hv1, TOKEN)).toBeNull();

    const applied = await apply(planFile);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(await lab().readFile(hv1, TOKEN)).toBe('token=GOOD\n');
    expect(await lab().readFile(hv2, TOKEN)).toBeNull();
    await lab().exec(hv1, ['rm', '-f', TOKEN]);
  });
});
