/**
 * Runs every testdata/*.txt interaction script and compares each command's output with the
 * golden output in the file. UPDATE_GOLDEN=1 rewrites the files from the actual outputs.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatScript, InteractionRunner, parseScript } from './helpers/interaction.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const update = process.env.UPDATE_GOLDEN === '1';

describe('interaction scripts', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const path = join(dir, file);
      const src = readFileSync(path, 'utf8');
      const blocks = parseScript(src);
      const runner = new InteractionRunner();
      const actual = blocks.map((b) => ({ ...b, expected: runner.run(b.command) }));
      if (update) {
        writeFileSync(path, formatScript(actual));
        return;
      }
      for (let i = 0; i < blocks.length; i++) {
        expect(actual[i]!.expected, `${file}: block ${i + 1} "${blocks[i]!.command}"`).toBe(blocks[i]!.expected);
      }
    });
  }
});
