#!/usr/bin/env node
// The SSH floor: the same hosts, at the same concurrency, one ssh2 connection and one trivial
// command each. Nothing a configuration tool does can be faster than this on the same machine.
//
//   node bench/floor.mjs HOSTS.json KEY [CONCURRENCY] [TIMEOUT_S]
// HOSTS.json: [{ "name", "address", "port", "hostKeyPublic" }] (the lab's hosts).
// Prints { ok, failed, errors } as JSON; exit 1 if any host failed.

import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

const { Client } = ssh2;

const [hostsFile, keyFile, concurrencyArg, timeoutArg] = process.argv.slice(2);
if (!hostsFile || !keyFile) {
  process.stderr.write('usage: node bench/floor.mjs HOSTS.json KEY [CONCURRENCY]\n');
  process.exit(64);
}
const hosts = JSON.parse(readFileSync(hostsFile, 'utf8'));
const privateKey = readFileSync(keyFile);
const concurrency = Math.max(1, Number(concurrencyArg ?? hosts.length));
const readyTimeout = 1000 * Number(timeoutArg ?? 30);

/** The host key is verified as hvtune verifies it: against the lab's recorded key. */
function keyMatches(host, key) {
  return host.hostKeyPublic.split(/\s+/)[1] === key.toString('base64');
}

function oneHost(host) {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn
      .on('ready', () => {
        conn.exec('true', (err, stream) => {
          if (err) {
            conn.end();
            reject(err);
            return;
          }
          stream.on('data', () => {}).stderr.on('data', () => {});
          stream.on('close', (code) => {
            conn.end();
            if (code === 0) resolve();
            else reject(new Error(`exit ${code}`));
          });
        });
      })
      .on('error', reject)
      .connect({
        host: host.address,
        port: host.port,
        username: 'root',
        privateKey,
        readyTimeout,
        hostVerifier: (key) => keyMatches(host, key),
      });
  });
}

const errors = [];
let next = 0;
async function worker() {
  while (next < hosts.length) {
    const host = hosts[next++];
    try {
      await oneHost(host);
    } catch (e) {
      errors.push(`${host.name}: ${e.message}`);
    }
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
process.stdout.write(JSON.stringify({ ok: hosts.length - errors.length, failed: errors.length, errors }) + '\n');
process.exitCode = errors.length ? 1 : 0;
