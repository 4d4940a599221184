import { pathToFileURL } from 'node:url';

/** True when the calling module is the program node was started with (not an import). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === moduleUrl;
}

/** Reads `--port N` and `--host H` from argv (defaults: any free port on 127.0.0.1). */
export function listenArgs(argv: string[]): { host: string; port: number } {
  let host = '127.0.0.1';
  let port = 0;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--host') host = String(argv[++i]);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`bad --port: ${port}\n`);
    process.exit(2);
  }
  return { host, port };
}
