// `storage.mysql.url` -> connection settings. The URL names the server and an existing database:
// mysql://user:password@host:port/database (user and password percent-encoded when they hold
// reserved characters; port 3306 when absent). `mariadb://` is accepted as a synonym.

export interface MySqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** host:port/database, for error messages (never the password). */
  label: string;
}

export function parseMySqlUrl(url: string): MySqlTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`storage.mysql.url ${JSON.stringify(redact(url))} is not a URL (mysql://user:password@host:port/database)`);
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new TypeError(`storage.mysql.url must start with mysql:// (got ${u.protocol}//)`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new TypeError('storage.mysql.url must name one database as its path (mysql://user:password@host:port/database)');
  }
  if (u.hostname === '') throw new TypeError('storage.mysql.url has no host');
  const port = u.port === '' ? 3306 : Number(u.port);
  // An IPv6 literal comes back bracketed from URL; the socket layer wants it bare.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
    label: `${u.hostname}:${port}/${database}`,
  };
}

/** The URL with its password replaced, for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}
