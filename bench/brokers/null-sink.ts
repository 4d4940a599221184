import net from 'node:net';
import { FrameReader } from '../loadgen/frame-reader.js';
import { makePublishTemplate, repeatTemplate } from '../loadgen/publish-template.js';
import type { RunningServer } from './aedes-server.js';
import { isMain, listenArgs } from './run-main.js';

/** Subscribing to this topic makes the sink stream QoS 0 PUBLISHes to that client flat out. */
export const FLOOD_TOPIC = 'sink/flood';
const FLOOD_BATCH = 256;

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/**
 * A do-nothing MQTT endpoint: answers CONNECT, SUBSCRIBE, QoS 1/2 flows and PINGREQ, discards
 * every PUBLISH. It measures the load generator itself: what the generator pushes into the sink
 * is its ceiling, and the flood topic shows how fast it can receive.
 */
export async function startNullSink(port = 0, host = '127.0.0.1', payloadSize = 64): Promise<RunningServer> {
  const flood = repeatTemplate(makePublishTemplate(FLOOD_TOPIC, 0, payloadSize), FLOOD_BATCH);
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    let out: number[] = [];
    let flooding = false;
    const pumpFlood = (): void => {
      while (!socket.destroyed && socket.write(flood));
    };
    const reader = new FrameReader((buf, type, flags, start, end) => {
      switch (type) {
        case 1: // CONNECT
          socket.write(CONNACK);
          return;
        case 3: {
          // PUBLISH: discarded; QoS 1 -> PUBACK, QoS 2 -> PUBREC.
          const qos = (flags >> 1) & 3;
          if (qos === 0) return;
          const idAt = start + 2 + buf.readUInt16BE(start);
          out.push(qos === 1 ? 0x40 : 0x50, 2, buf[idAt], buf[idAt + 1]);
          return;
        }
        case 6: // PUBREL -> PUBCOMP
          out.push(0x70, 2, buf[start], buf[start + 1]);
          return;
        case 8: {
          // SUBSCRIBE -> SUBACK granting the requested QoS of each filter.
          const granted: number[] = [];
          let p = start + 2;
          let wantsFlood = false;
          while (p < end) {
            const len = buf.readUInt16BE(p);
            if (buf.toString('utf8', p + 2, p + 2 + len) === FLOOD_TOPIC) wantsFlood = true;
            p += 2 + len;
            granted.push(buf[p] & 3);
            p++;
          }
          socket.write(Buffer.from([0x90, 2 + granted.length, buf[start], buf[start + 1], ...granted]));
          if (wantsFlood && !flooding) {
            flooding = true;
            socket.on('drain', pumpFlood);
            setImmediate(pumpFlood);
          }
          return;
        }
        case 10: // UNSUBSCRIBE -> UNSUBACK
          socket.write(Buffer.from([0xb0, 2, buf[start], buf[start + 1]]));
          return;
        case 12: // PINGREQ
          socket.write(PINGRESP);
          return;
        case 14: // DISCONNECT
          socket.end();
          return;
        default:
          return;
      }
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      if (out.length > 0) {
        socket.write(Buffer.from(out));
        out = [];
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

if (isMain(import.meta.url)) {
  const { host, port } = listenArgs(process.argv.slice(2));
  const s = await startNullSink(port, host);
  process.stdout.write(`listening mqtt-tcp ${s.host}:${s.port}\n`);
  const stop = (): void => {
    void s.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
