// The TypeScript interface to the placement center, shared by the gRPC client (a cluster over the
// network) and the embedded client (a single-node group in-process). Callers depend on
// PlacementClient only, so a standalone broker and a clustered one run the same code.

import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  GetObjectRequestSchema,
  KvDeleteRequestSchema,
  KvGetRequestSchema,
  KvListRequestSchema,
  KvSetRequestSchema,
  ListNodesRequestSchema,
  ListObjectsRequestSchema,
  ListRoutesRequestSchema,
  MetadataObjectSchema,
  NodeKind,
  PutObjectRequestSchema,
  DeleteObjectRequestSchema,
  RegisterNodeRequestSchema,
  RequestIdSchema,
  StatusRequestSchema,
  UnregisterNodeRequestSchema,
  HeartbeatRequestSchema,
  TransferLeaderRequestSchema,
  AddMemberRequestSchema,
  PromoteLearnerRequestSchema,
  RemoveMemberRequestSchema,
  type AddMemberResponse,
  type PromoteLearnerResponse,
  type RemoveMemberResponse,
  type TransferLeaderResponse,
  ObjectKind,
  type ClusterNode,
  type DeleteObjectResponse,
  type KvDeleteResponse,
  type KvEntry,
  type KvListResponse,
  type KvSetResponse,
  type ListObjectsResponse,
  type PutObjectResponse,
  type RegisterNodeResponse,
  type RequestId,
  type RouteEntry,
  type StatusResponse,
  type StoredObject,
  type UnregisterNodeResponse,
  type WatchResponse,
} from '../../proto/gen/placement_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ApiRequest, ApiResponse, ObjectInit, UnaryMethodName } from './api-types.js';

export interface WatchOptions {
  /** First log index wanted; 0 or absent = only what happens from now on. */
  readonly fromIndex?: number;
  /** Key prefixes ("kv/", "user/", "node/broker/", "route/"); empty = everything. */
  readonly prefixes?: readonly string[];
}

/**
 * A watch stream: iterate it for events and progress marks; it resumes by itself after a
 * broken connection and ends with a PC_WATCH_COMPACTED CodedError when it cannot (list again).
 */
export interface PlacementWatch extends AsyncIterable<WatchResponse> {
  close(): void;
}

export type RegisterNodeInit = Omit<MessageInitShape<typeof RegisterNodeRequestSchema>, 'requestId' | '$typeName'>;

export interface PlacementClient {
  kvSet(key: string, value: Uint8Array | string): Promise<KvSetResponse>;
  /** Linearizable; undefined when the key is absent. */
  kvGet(key: string): Promise<KvEntry | undefined>;
  kvDelete(key: string): Promise<KvDeleteResponse>;
  kvList(prefix?: string): Promise<KvListResponse>;
  /** Status of the member this client is talking to. */
  status(): Promise<StatusResponse>;
  /** Resolves once `to` leads (PC_TIMEOUT when the transfer did not finish). */
  transferLeader(to: number): Promise<TransferLeaderResponse>;
  /** Membership, one change at a time (placement/README.md): answered once the leader applied it. */
  addMember(nodeId: number, address: string, options?: { readonly asLearner?: boolean }): Promise<AddMemberResponse>;
  /** PC_LEARNER_NOT_CAUGHT_UP while the learner lags; retry. */
  promoteLearner(nodeId: number): Promise<PromoteLearnerResponse>;
  removeMember(nodeId: number): Promise<RemoveMemberResponse>;

  registerNode(init: RegisterNodeInit): Promise<RegisterNodeResponse>;
  /** Throws PC_NODE_NOT_REGISTERED when the node must register again. */
  heartbeat(kind: NodeKind, nodeId: number, incarnation?: number): Promise<void>;
  unregisterNode(kind: NodeKind, nodeId: number): Promise<UnregisterNodeResponse>;
  listNodes(kind?: NodeKind): Promise<ClusterNode[]>;

  /** `expectedModIndex`: conditional put (0 = create only); PC_CONFLICT / PC_ALREADY_EXISTS. */
  putObject(object: ObjectInit, options?: { readonly expectedModIndex?: number }): Promise<PutObjectResponse>;
  /** Only the identifying fields of `object` matter. */
  deleteObject(object: ObjectInit): Promise<DeleteObjectResponse>;
  getObject(object: ObjectInit): Promise<StoredObject | undefined>;
  listObjects(kind: ObjectKind, keyPrefix?: string): Promise<ListObjectsResponse>;
  listRoutes(): Promise<RouteEntry[]>;

  watch(options?: WatchOptions): PlacementWatch;
  close(): Promise<void>;
}

/**
 * The typed methods, written once over one `call` per RPC. Every write carries a request id
 * (client id + sequence) so that a retry after an unknown outcome takes effect at most once.
 */
export abstract class PlacementClientBase implements PlacementClient {
  private readonly clientId = `c-${randomBytes(8).toString('hex')}`;
  private seq = 0;

  /** `write`: the call must reach the leader (reads may be served by any member). */
  protected abstract call<K extends UnaryMethodName>(method: K, req: ApiRequest<K>, write: boolean): Promise<ApiResponse<K>>;
  abstract watch(options?: WatchOptions): PlacementWatch;
  abstract close(): Promise<void>;

  protected requestId(): RequestId {
    return create(RequestIdSchema, { clientId: this.clientId, seq: ++this.seq });
  }

  kvSet(key: string, value: Uint8Array | string): Promise<KvSetResponse> {
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    return this.call('kvSet', create(KvSetRequestSchema, { key, value: bytes, requestId: this.requestId() }), true);
  }

  async kvGet(key: string): Promise<KvEntry | undefined> {
    const r = await this.call('kvGet', create(KvGetRequestSchema, { key }), false);
    return r.found ? r.entry : undefined;
  }

  kvDelete(key: string): Promise<KvDeleteResponse> {
    return this.call('kvDelete', create(KvDeleteRequestSchema, { key, requestId: this.requestId() }), true);
  }

  kvList(prefix = ''): Promise<KvListResponse> {
    return this.call('kvList', create(KvListRequestSchema, { prefix }), false);
  }

  status(): Promise<StatusResponse> {
    return this.call('status', create(StatusRequestSchema), false);
  }

  transferLeader(to: number): Promise<TransferLeaderResponse> {
    return this.call('transferLeader', create(TransferLeaderRequestSchema, { to }), false);
  }

  addMember(nodeId: number, address: string, options: { readonly asLearner?: boolean } = {}): Promise<AddMemberResponse> {
    return this.call('addMember', create(AddMemberRequestSchema, { nodeId, address, asLearner: options.asLearner ?? false }), true);
  }

  promoteLearner(nodeId: number): Promise<PromoteLearnerResponse> {
    return this.call('promoteLearner', create(PromoteLearnerRequestSchema, { nodeId }), true);
  }

  removeMember(nodeId: number): Promise<RemoveMemberResponse> {
    return this.call('removeMember', create(RemoveMemberRequestSchema, { nodeId }), true);
  }

  registerNode(init: RegisterNodeInit): Promise<RegisterNodeResponse> {
    return this.call('registerNode', create(RegisterNodeRequestSchema, { ...init, requestId: this.requestId() }), true);
  }

  async heartbeat(kind: NodeKind, nodeId: number, incarnation = 0): Promise<void> {
    await this.call('heartbeat', create(HeartbeatRequestSchema, { kind, nodeId, incarnation }), true);
  }

  unregisterNode(kind: NodeKind, nodeId: number): Promise<UnregisterNodeResponse> {
    return this.call('unregisterNode', create(UnregisterNodeRequestSchema, { kind, nodeId, requestId: this.requestId() }), true);
  }

  async listNodes(kind: NodeKind = NodeKind.UNSPECIFIED): Promise<ClusterNode[]> {
    return (await this.call('listNodes', create(ListNodesRequestSchema, { kind }), false)).nodes;
  }

  putObject(object: ObjectInit, options: { readonly expectedModIndex?: number } = {}): Promise<PutObjectResponse> {
    return this.call(
      'putObject',
      create(PutObjectRequestSchema, {
        object: create(MetadataObjectSchema, { object }),
        requestId: this.requestId(),
        ...(options.expectedModIndex !== undefined ? { expectedModIndex: options.expectedModIndex } : {}),
      }),
      true,
    );
  }

  deleteObject(object: ObjectInit): Promise<DeleteObjectResponse> {
    return this.call('deleteObject', create(DeleteObjectRequestSchema, { object: create(MetadataObjectSchema, { object }), requestId: this.requestId() }), true);
  }

  async getObject(object: ObjectInit): Promise<StoredObject | undefined> {
    const r = await this.call('getObject', create(GetObjectRequestSchema, { object: create(MetadataObjectSchema, { object }) }), false);
    return r.found ? r.object : undefined;
  }

  listObjects(kind: ObjectKind, keyPrefix = ''): Promise<ListObjectsResponse> {
    return this.call('listObjects', create(ListObjectsRequestSchema, { kind, keyPrefix }), false);
  }

  async listRoutes(): Promise<RouteEntry[]> {
    return (await this.call('listRoutes', create(ListRoutesRequestSchema), false)).routes;
  }
}

/** A push-to-pull queue behind a PlacementWatch. */
export class WatchQueue implements PlacementWatch {
  private readonly items: WatchResponse[] = [];
  private error: unknown;
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly onClose: () => void;

  constructor(onClose: () => void) {
    this.onClose = onClose;
  }

  push(item: WatchResponse): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }

  fail(err: unknown): void {
    if (this.ended) return;
    this.error = err;
    this.ended = true;
    this.wake?.();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.onClose();
    this.wake?.();
  }

  get isClosed(): boolean {
    return this.ended;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    try {
      for (;;) {
        const next = this.items.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.ended) {
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
      }
    } finally {
      if (!this.ended) this.close();
    }
  }
}
