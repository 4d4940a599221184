// Runs s3rver (an S3-protocol server on the local filesystem) in its own process, so a test can
// kill it with SIGKILL like a real server. Reads its settings from the environment, prints one
// JSON line {"port": N} on stdout once it listens.
//   S3_DIR, S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, S3_PORT (optional, default 0: any free port)

import S3rver from 's3rver';
import account from 's3rver/lib/models/account.js';

const { S3_DIR: directory, S3_BUCKET: bucket, S3_ACCESS_KEY: accessKey, S3_SECRET_KEY: secretKey } = process.env;
if (!directory || !bucket || !accessKey || !secretKey) {
  process.stderr.write('s3rver-child: S3_DIR, S3_BUCKET, S3_ACCESS_KEY and S3_SECRET_KEY are required\n');
  process.exit(2);
}
// s3rver knows one built-in key pair; give this run its own, so signatures are really checked.
account.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
account.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(process.env.S3_PORT ?? 0),
  silent: true,
  directory,
  configureBuckets: [{ name: bucket, configs: [] }],
});
const addr = await server.run();
process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
process.on('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
