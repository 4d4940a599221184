// The four object operations the s3 driver needs, over the minio client, against any
// S3-compatible endpoint (MinIO, AWS S3, s3rver, ...). Every socket gets an inactivity deadline:
// a server that stops answering fails the request after `timeoutMs` instead of hanging it, which
// the minio client alone does not do.

import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Client } from 'minio';

export interface S3Endpoint {
  /** http(s)://host[:port] */
  endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  /** Default us-east-1 (set it to the bucket's region for AWS S3). */
  region?: string;
  /** Path-style URLs (host/bucket/key). Default: true, except for *.amazonaws.com. */
  pathStyle?: boolean;
  /** Inactivity deadline of a request, ms (default 20,000). */
  timeoutMs?: number;
}

export interface ObjectStore {
  /** host:port/bucket, for messages. */
  readonly label: string;
  put(name: string, body: Buffer): Promise<void>;
  /** The object's bytes, or null when it does not exist. */
  get(name: string): Promise<Buffer | null>;
  /** Names under the prefix, in ascending order, after `startAfter` when given. */
  list(prefix: string, startAfter?: string): Promise<string[]>;
  remove(names: readonly string[]): Promise<void>;
  close(): void;
}

type AgentCtor = typeof http.Agent;

/** An agent whose sockets are destroyed after `idleMs` without traffic. */
function deadlineAgent(Base: AgentCtor, idleMs: number): http.Agent {
  class DeadlineAgent extends Base {
    override createConnection(...args: Parameters<http.Agent['createConnection']>): Duplex | null | undefined {
      const socket = super.createConnection(...args);
      if (socket !== null && socket !== undefined && 'setTimeout' in socket) {
        const s = socket as Duplex & { setTimeout(ms: number, cb: () => void): void };
        s.setTimeout(idleMs, () => s.destroy(new Error(`no answer from the S3 endpoint in ${idleMs} ms`)));
      }
      return socket;
    }
  }
  // The agent's own timeout too: it is what an idle keep-alive socket is reset to when reused.
  return new DeadlineAgent({ keepAlive: true, maxSockets: 16, timeout: idleMs });
}

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'NoSuchKey' || code === 'NotFound';
}

export function minioObjectStore(cfg: S3Endpoint): ObjectStore {
  let u: URL;
  try {
    u = new URL(cfg.endpoint);
  } catch {
    throw new TypeError(`storage.s3.endpoint ${JSON.stringify(cfg.endpoint)} is not a URL (http://host:port or https://host)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new TypeError(`storage.s3.endpoint must start with http:// or https:// (got ${u.protocol}//)`);
  }
  if (u.pathname !== '/' && u.pathname !== '') throw new TypeError('storage.s3.endpoint must not have a path');
  if (typeof cfg.bucket !== 'string' || cfg.bucket === '') throw new TypeError('storage.s3.bucket must be a non-empty string');
  const useSSL = u.protocol === 'https:';
  const port = u.port === '' ? (useSSL ? 443 : 80) : Number(u.port);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const timeoutMs = cfg.timeoutMs ?? 20_000;
  const agent = deadlineAgent(useSSL ? (https.Agent as unknown as AgentCtor) : http.Agent, timeoutMs);
  const client = new Client({
    endPoint: host,
    port,
    useSSL,
    accessKey: cfg.accessKey,
    secretKey: cfg.secretKey,
    region: cfg.region ?? 'us-east-1',
    pathStyle: cfg.pathStyle ?? !host.endsWith('.amazonaws.com'),
    transportAgent: agent,
    // The driver reports a failure at once (the broker then does not acknowledge); the minio
    // client's own retry would only delay that and log to the console.
    retryOptions: { disableRetry: true },
  });
  const bucket = cfg.bucket;
  return {
    label: `${u.host}/${bucket}`,
    async put(name, body) {
      await client.putObject(bucket, name, body, body.length);
    },
    async get(name) {
      try {
        const stream = await client.getObject(bucket, name);
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      } catch (e: unknown) {
        if (isNotFound(e)) return null;
        throw e;
      }
    },
    list(prefix, startAfter) {
      return new Promise((resolve, reject) => {
        const names: string[] = [];
        const stream = client.listObjectsV2(bucket, prefix, true, startAfter ?? '');
        stream.on('data', (item: { name?: string }) => {
          if (item.name !== undefined) names.push(item.name);
        });
        stream.on('error', reject);
        stream.on('end', () => resolve(names.sort()));
      });
    },
    async remove(names) {
      if (names.length > 0) await client.removeObjects(bucket, [...names]);
    },
    close() {
      agent.destroy();
    },
  };
}
