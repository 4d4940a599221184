// Public surface of the journal client (what the broker's `journal` storage driver and robust-ctl use).
export { JournalClient, Acks, Isolation, type JournalClientOptions, type ClientRecord, type ReadRecord, type ReadFrom, type ReadOptions, type WriteOptions } from './journal-client.js';
export { JournalConnection, ConnectionPool } from './connection.js';
export { fromGrpcError, toGrpcStatus, asCodedError } from './grpc-errors.js';
