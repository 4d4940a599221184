#!/usr/bin/env node
// `robust-ctl <command> [--server URL] [--output table|json]`: see cli/robust-ctl.ts.

import { runCtl } from '../cli/robust-ctl.js';

const code = await runCtl(process.argv.slice(2), {
  out: (text) => void process.stdout.write(text + '\n'),
  err: (text) => void process.stderr.write(text + '\n'),
});
process.exit(code);
