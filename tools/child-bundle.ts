/**
 * A child process's script (a test's, the soak's, the bench's) bundled into one ESM
 * file, so the child runs on plain `node`: fast to start, as many times as it is killed.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function bundleChild(entry: URL, outfile: string): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
    // CommonJS dependencies (`ws`) require Node's modules: give the ESM bundle a `require`.
    banner: {
      js: "import { createRequire as __holdfastRequire } from 'node:module'; const require = __holdfastRequire(import.meta.url);",
    },
  });
}
