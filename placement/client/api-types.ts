// Types of the PlacementService RPCs, derived from the generated descriptor so they cannot drift.

import type { MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { MetadataObjectSchema, PlacementService } from '../../proto/gen/placement_pb.js';

type Methods = typeof PlacementService.method;
export type UnaryMethodName = { [K in keyof Methods]: Methods[K]['methodKind'] extends 'unary' ? K : never }[keyof Methods];
export type ApiRequest<K extends keyof Methods> = MessageShape<Methods[K]['input']>;
export type ApiResponse<K extends keyof Methods> = MessageShape<Methods[K]['output']>;
/** One handler per unary RPC: the server side, and what the embedded client calls directly. */
export type PlacementApi = { readonly [K in UnaryMethodName]: (req: ApiRequest<K>) => Promise<ApiResponse<K>> };

/** A metadata object to write or identify: `{ case: 'user', value: { username: 'alice', ... } }`. */
export type ObjectInit = NonNullable<MessageInitShape<typeof MetadataObjectSchema>['object']>;
