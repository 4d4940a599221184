// gRPC (@grpc/grpc-js) service definitions built from protobuf-es v2 service descriptors, so the
// generated `_pb.ts` files are all a service needs: no second code generator. Services and
// clients share these definitions; method names are the descriptor's localName (`kvSet`).

import type { ServiceDefinition, MethodDefinition } from '@grpc/grpc-js';
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageShape } from '@bufbuild/protobuf';

function serializer<D extends DescMessage>(desc: D): (msg: MessageShape<D>) => Buffer {
  return (msg) => {
    const bytes = toBinary(desc, msg);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(desc: D): (buf: Buffer) => MessageShape<D> {
  return (buf) => fromBinary(desc, buf);
}

/** The grpc-js method definition of one descriptor method. */
export function grpcMethod(service: DescService, method: DescMethod): MethodDefinition<unknown, unknown> {
  return {
    path: `/${service.typeName}/${method.name}`,
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: serializer(method.input) as (m: unknown) => Buffer,
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output) as (m: unknown) => Buffer,
    responseDeserialize: deserializer(method.output),
  };
}

/** `server.addService(grpcServiceDefinition(PlacementService), handlers)`. */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) def[m.localName] = grpcMethod(service, m);
  return def;
}
