// `${username}`, `${clientid}`, `${peerhost}`, `${cert_common_name}` in backend queries and
// commands. For SQL every placeholder becomes a `?` parameter (quotes written around it in the
// template are dropped), so a value is never spliced into the statement text. For Redis each
// whitespace-separated word is one argument, and placeholders are filled inside a word.

export const placeholderNames = ['username', 'clientid', 'peerhost', 'cert_common_name'] as const;
export type PlaceholderName = (typeof placeholderNames)[number];
export type PlaceholderValues = Readonly<Record<PlaceholderName, string>>;

export class TemplateError extends Error {
  readonly code = 'BR_SECURITY_BAD_TEMPLATE';
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

const ANY_PLACEHOLDER = /\$\{([^}]*)\}/g;
const QUOTED_OR_BARE = /(['"`]?)\$\{([^}]*)\}\1/g;

function checkNames(template: string): PlaceholderName[] {
  const names: PlaceholderName[] = [];
  for (const m of template.matchAll(ANY_PLACEHOLDER)) {
    const name = m[1]!;
    if (!(placeholderNames as readonly string[]).includes(name)) {
      throw new TemplateError(`unknown placeholder \${${name}} in ${JSON.stringify(template)} (known: ${placeholderNames.map((n) => `\${${n}}`).join(', ')})`);
    }
    names.push(name as PlaceholderName);
  }
  return names;
}

export interface SqlTemplate {
  readonly sql: string;
  readonly params: readonly PlaceholderName[];
}

export function compileSql(template: string): SqlTemplate {
  checkNames(template);
  const params: PlaceholderName[] = [];
  const sql = template.replace(QUOTED_OR_BARE, (_m, _q: string, name: string) => {
    params.push(name as PlaceholderName);
    return '?';
  });
  return { sql, params };
}

export function bindSql(t: SqlTemplate, values: PlaceholderValues): string[] {
  return t.params.map((n) => values[n]);
}

export interface CommandTemplate {
  readonly command: string;
  readonly args: readonly string[];
}

export function compileCommand(template: string): CommandTemplate {
  checkNames(template);
  const words = template.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw new TemplateError('empty command');
  return { command: words[0]!.toUpperCase(), args: words.slice(1) };
}

export function bindCommand(t: CommandTemplate, values: PlaceholderValues): string[] {
  return t.args.map((a) => a.replace(ANY_PLACEHOLDER, (_m, name: string) => values[name as PlaceholderName]));
}

/** Whether a template depends on more than the username (then cache keys include the client id). */
export function usesClientDetails(template: string): boolean {
  return /\$\{(clientid|peerhost|cert_common_name)\}/.test(template);
}
