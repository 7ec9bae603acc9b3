// bin/siberite, the `siberite` command: the one place the runtime tuning (malloc settings and a
// node flag, docs/benchmarks.md#runtime-tuning) is written. npm's "bin" and "start", the Docker
// image and the benchmarks start the server through it; it must exec node, so that the server
// is the process its caller started (PID 1 in the image, the pid a bench samples).
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const LAUNCHER = join(ROOT, 'bin/siberite');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The settings only bin/siberite may write. */
const TUNING = /MALLOC_(ARENA_MAX|MMAP_THRESHOLD_|TRIM_THRESHOLD_)|--max-semi-space-size/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('the runtime tuning is defined once', () => {
  it('bin/siberite is executable and ends by exec-ing node on dist/src/cli.js', () => {
    accessSync(LAUNCHER, constants.X_OK);
    const lastLine = read('bin/siberite').trimEnd().split('\n').at(-1)!;
    expect(lastLine).toMatch(/^exec node --max-semi-space-size=2 .*"\$root\/dist\/src\/cli\.js" "\$@"$/);
  });

  it('npm "bin" and "start", and the Docker image, start the server through it', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.bin).toEqual({ siberite: 'bin/siberite' });
    expect(pkg.scripts.start).toBe('tsc -p tsconfig.json && bin/siberite');
    expect(read('Dockerfile')).toContain('ENTRYPOINT ["/app/bin/siberite"]');
  });

  it('no other start of the server writes it', () => {
    const sources = ['Dockerfile', 'package.json', 'docker-compose.yml']
      .map((f) => join(ROOT, f))
      .concat(['src', 'bench', 'deploy'].flatMap((d) => files(join(ROOT, d))))
      .filter((f) => !f.includes(`${join('src', 'native', 'build')}`));
    const offenders = sources.filter((f) => TUNING.test(readFileSync(f, 'utf8'))).map((f) => f.slice(ROOT.length + 1));
    expect(offenders).toEqual([]);
  });
});

describe('bin/siberite', () => {
  it('runs the server as the process it was started as, with the tuning, and passes SIGTERM on', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'siberite-launcher-'));
    // The node running this test, first on PATH: the launcher runs `node`.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
    const proc = spawn(LAUNCHER, ['-listen', '127.0.0.1:0', '-data', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
      let output = '';
      await new Promise<void>((res, rej) => {
        proc.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (/"listen":"[^"]*:\d+"/.test(output)) res();
        });
        proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        void exited.then((code) => rej(new Error(`exited (${code}) before listening:\n${output}`)));
      });
      const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0');
      const nodeFlag = /^exec node (--\S+) /m.exec(read('bin/siberite'))![1]!;
      expect(cmdline.slice(1, 3)).toEqual([nodeFlag, join(ROOT, 'dist/src/cli.js')]);
      // Every setting the launcher exports reaches the server.
      const exported = [...read('bin/siberite').matchAll(/^export (\w+=\S+)$/gm)].map((m) => m[1]!);
      expect(exported.filter((e) => e.startsWith('MALLOC_'))).toHaveLength(3);
      const environ = readFileSync(`/proc/${proc.pid}/environ`, 'utf8').split('\0');
      expect(environ).toEqual(expect.arrayContaining(exported));
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      proc.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
