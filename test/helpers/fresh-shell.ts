/**
 * `ferry …` as a newcomer runs it: a subprocess of the CLI's own launcher in a fresh shell (a new
 * working directory holding only the `.ferry/local.env` the stack wrote, a new HOME, and PATH as
 * the only variable). Async, because the emulators answer in the test process's event loop too.
 */
import { after } from 'node:test';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const LAUNCHER = join(import.meta.dirname, '..', '..', 'shared', 'cli', 'ferry.mjs');

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** A fresh shell beside the stack's local.env (removed after the test file); its `ferry` is killed after `timeoutMs`. */
export function freshShell(localEnvFile: string, opts: { timeoutMs: number }): (...args: string[]) => Promise<CliResult> {
  const home = mkdtempSync(join(tmpdir(), 'ferry-home-'));
  const shell = mkdtempSync(join(tmpdir(), 'ferry-shell-'));
  mkdirSync(join(shell, '.ferry'));
  copyFileSync(localEnvFile, join(shell, '.ferry', 'local.env'));
  after(() => {
    for (const d of [home, shell]) rmSync(d, { recursive: true, force: true });
  });
  return (...args) =>
    new Promise((resolve, reject) => {
      const p = spawn('node', [LAUNCHER, ...args], { cwd: shell, env: { PATH: process.env['PATH']!, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      p.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
      const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs);
      p.on('error', reject);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });
}
