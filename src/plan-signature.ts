// Saved plans are signed (issue 15, finding 11): `apply` runs a plan's changes as written, and
// its staleness check compares only what the host shows, so an edit of a change's data (the
// content a file gets) went straight to the host. `plan -o` and `rollback -o` sign what they save
// with HMAC-SHA256 under a key of this controller; `apply` refuses a plan whose signature does not
// match, before connecting to anything. Signing, rather than planning again from the recorded
// inputs, keeps Terraform's rule that a plan is applied as it was made when the playbook changed
// since, and covers rollback plans, which come from a run record and not from a playbook.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { HvtuneError } from './errors.js';
import { PLAN_FORMAT, parsePlan, serialisePlan, type SavedPlan } from './planfile.js';

/** Points at the key file instead of the default one (a key shared by several controllers). */
export const PLAN_KEY_ENV = 'HVTUNE_PLAN_KEY_FILE';
const ALGORITHM = 'HMAC-SHA256';

export interface PlanSignature {
  alg: typeof ALGORITHM;
  /** which key signed: the start of the key's sha256, so a plan from another controller says so */
  key: string;
  /** HMAC-SHA256 of the plan without its signature, as compact JSON, in hex */
  value: string;
}

/** `$HVTUNE_PLAN_KEY_FILE`, else `$XDG_STATE_HOME/hvtune/plan.key`, else `~/.local/state/hvtune/plan.key`. */
export function planKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env[PLAN_KEY_ENV]) return env[PLAN_KEY_ENV];
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(state, 'hvtune', 'plan.key');
}

const keyId = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 16);

/** The key in `path` (64 hex digits), or null when there is no such file. */
function readKey(path: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new HvtuneError(`cannot read the plan key ${path}: ${(err as Error).message}`);
  }
  if (!/^[0-9a-f]{64}\s*$/.test(text)) throw new HvtuneError(`${path}: not a plan key (expected 64 hex digits, as hvtune writes it)`);
  // whoever can read the key can sign a plan of their own: owner only, as ssh wants of a private key
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new HvtuneError(`${path}: the plan key is readable by others (mode ${mode.toString(8)}): chmod 600 ${path}`);
  }
  return Buffer.from(text.trim(), 'hex');
}

/** This controller's key; made (0600, in a 0700 directory) the first time a plan is signed. */
export function planKey(path = planKeyPath()): Buffer {
  const found = readKey(path);
  if (found) return found;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // written whole, then linked into place: two first plans at once end with one key, both using it
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new HvtuneError(`cannot create the plan key ${path}: ${(err as Error).message}`);
  } finally {
    unlinkSync(tmp);
  }
  return readKey(path)!;
}

const mac = (key: Buffer, body: unknown) => createHmac('sha256', key).update(JSON.stringify(body)).digest('hex');

/** The plan file's text: serialisePlan's, signed with this controller's key. */
export function signedPlanText(plan: SavedPlan, key = planKey()): string {
  // sign exactly what serialisePlan saves
  const body = JSON.parse(serialisePlan(plan)) as Record<string, unknown>;
  const signature: PlanSignature = { alg: ALGORITHM, key: keyId(key), value: mac(key, body) };
  return JSON.stringify({ ...body, signature }, null, 2) + '\n';
}

/**
 * Read a saved plan and check its signature with this controller's key; every refusal names the
 * file and says nothing was applied (the caller has not connected yet).
 */
export function readSignedPlan(file: string, keyPath = planKeyPath()): SavedPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HvtuneError(`${file}: cannot read the plan: ${(err as Error).message}`);
  }
  let data: Record<string, unknown> | null = null;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // parsePlan says what is wrong with it
  }
  if (!data || typeof data !== 'object' || data.format !== PLAN_FORMAT) return parsePlan(text, file);
  const { signature, ...body } = data as { signature?: Partial<PlanSignature> };
  const refused = (why: string) => new HvtuneError(`${file}: ${why}; nothing was applied`);
  if (!signature || typeof signature.value !== 'string' || typeof signature.key !== 'string') {
    throw refused('the plan is not signed, so apply cannot tell it is what hvtune planned: make it again with hvtune plan -o');
  }
  if (signature.alg !== ALGORITHM) throw refused(`the plan is signed with ${String(signature.alg)}, this hvtune checks ${ALGORITHM}`);
  const key = readKey(keyPath);
  if (!key) {
    throw refused(
      `no plan key at ${keyPath} to check its signature: a plan is applied by a controller with the key that signed it (copy that key here, or set ${PLAN_KEY_ENV} to it)`,
    );
  }
  if (signature.key !== keyId(key)) {
    throw refused(
      `the plan was signed with another plan key (${signature.key}; ${keyPath} is ${keyId(key)}): use the key of the controller that made it (${PLAN_KEY_ENV}), or make the plan here`,
    );
  }
  const want = Buffer.from(mac(key, body), 'hex');
  const got = Buffer.from(/^[0-9a-f]{64}$/.test(signature.value) ? signature.value : '', 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw refused(
      'the plan was changed after hvtune signed it (its signature does not match its contents): make it again with hvtune plan -o',
    );
  }
  return parsePlan(text, file);
}
