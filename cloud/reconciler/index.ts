/**
 * Public face of the reconciler. Everything outside cloud/reconciler imports from here.
 */
export { Reconciler, type ReconcilerOptions, type ReconcilerCounters, type RunSummary } from './reconciler.js';
export type { ReconcilerSource, SourceBatch, SourceEvent, CommittedPositions, CommittedPosition } from './source.js';
export { MessageLogSource } from './sources/message-log-source.js';
export { EventHubsSource, type EventHubsSourceOptions } from './sources/event-hubs-source.js';
export { PostgresOwnership, ownershipFor, type OwnershipStore } from './checkpoint-store/postgres-ownership.js';
export type {
  ReconcilerStore,
  ResultRow,
  ReadingRow,
  EventRow,
  DeviceState,
  GapRow,
  ResultFilter,
  CommitBatch,
  Checkpoint,
  RowCounts,
} from './store.js';
export { SqliteStore } from './stores/sqlite-store.js';
export { PostgresStore } from './stores/postgres-store.js';
export { openStore, DEFAULT_STORE_LOCATION } from './open-store.js';
export type { Gap, GapState } from './gaps.js';
export { contiguousSeq } from './gaps.js';
export { RESEND_METHOD, DEFAULT_RESEND_POLICY, type MethodInvoker, type MethodResponse, type ResendPolicy, type ResendRequest } from './resend.js';
export { hubMethodInvoker, dataDirMethodInvoker, type HubMethodFace } from './hub-methods.js';
export { DEFAULT_SKEW_THRESHOLD_MS } from './skew.js';
export { ProgressReporter, DEFAULT_PROGRESS_INTERVAL_MS, type PartitionLag } from './progress.js';
export { startHttpApi, type HttpApi } from './http-api.js';
export { parseResultFilter, parseTimeArg } from './filters.js';
export { BacklogFilesSource, type BacklogFileLister, type StoredBacklogFile, type BacklogFilesSourceOptions } from './sources/backlog-files-source.js';
export { emulatorFileLister, dataDirFileLister, azureContainerLister, DEFAULT_SETTLE_MS, type AzureContainerListerOptions } from './sources/backlog-file-listers.js';
export { filesContainerClient, checkFilesContainer, type FilesContainerAddress } from './sources/azure-files-container.js';
export { CombinedSource } from './sources/combined-source.js';
