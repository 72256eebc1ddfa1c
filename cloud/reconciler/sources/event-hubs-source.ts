import {
  EventHubConsumerClient,
  earliestEventPosition,
  parseEventHubConnectionString,
  type LoadBalancingOptions,
  type Checkpoint,
  type CheckpointStore,
  type PartitionOwnership,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { EdgeError, errorMessage } from '../../../agent/core/errors.js';
import { Signal } from '../../../agent/core/signal.js';
import type { CommittedPositions, ReconcilerSource, SourceBatch, SourceEvent } from '../source.js';
import type { OwnershipStore } from '../checkpoint-store/postgres-ownership.js';

/**
 * IoT Hub's Event Hub-compatible endpoint through `EventHubConsumerClient` with a checkpoint
 * store, so several reconciler instances share the partitions (Event Hubs moves partition
 * ownership between them).
 *
 * The checkpoint store given to the client is an adapter: checkpoints are *read* from the
 * reconciler's own store (where they were committed with the data) and never written by the
 * client, so there is exactly one place positions live. Ownership goes to `ownership`: a shared
 * store (PostgresOwnership on the reconciler's database) when running several instances; the
 * default keeps it in memory, which is right for a single instance only.
 *
 * The client pushes events; this class buffers them per partition until the reconciler releases
 * them as committed, and holds the client's handler while the buffer is full (backpressure), so
 * memory stays bounded.
 *
 * Tested against the emulator's AMQP endpoint (cloud/iothub/amqp) and, given a namespace, Azure; see README.
 */
export interface EventHubsSourceOptions {
  /** `Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=<hub>` */
  connectionString: string;
  consumerGroup?: string;
  /**
   * Where partition ownership lives: shared by every instance reading the hub (PostgresOwnership
   * on the reconciler's database); in memory by default, right for one instance only. The source
   * closes it on `close()`.
   */
  ownership?: OwnershipStore;
  /** The SDK's load balancing: how often to claim/renew, when an owner that stopped renewing loses its partitions. */
  loadBalancing?: LoadBalancingOptions;
  /** Names this instance in the ownership rows (the SDK picks a random one otherwise). */
  instanceId?: string;
  /** Events buffered per partition before the client is made to wait. */
  maxBuffered?: number;
  /**
   * How long `open` and `ends` wait for the endpoint's answer. The SDK retries a refused connection
   * for minutes without a word; a `--once` run would sit silent all that time.
   */
  openTimeoutMs?: number;
}

const OPEN_TIMEOUT_MS = 30_000;

interface PartitionBuffer {
  /** Received and not yet released (committed), in partition order. */
  events: SourceEvent[];
  /** Everything below this sequence number was released. */
  released: number;
  /** Resolves the client's pending processEvents once `read` drained the buffer below the limit. */
  drained: Array<() => void>;
  /** The partition's last enqueued sequence number + 1, from the receiver's runtime metric (trackLastEnqueuedEventProperties). */
  end?: number;
}

export class EventHubsSource implements ReconcilerSource {
  readonly id: string;
  private readonly options: EventHubsSourceOptions;
  private readonly consumerGroup: string;
  private client: EventHubConsumerClient | undefined;
  private subscription: Subscription | undefined;
  private readonly owned = new Map<string, PartitionBuffer>();
  private failure: unknown;
  /** Notified whenever the client hands over events, so a caller can wait for them instead of polling. */
  readonly arrived = new Signal();

  constructor(options: EventHubsSourceOptions) {
    let props;
    try {
      props = parseEventHubConnectionString(options.connectionString);
    } catch (cause) {
      throw new EdgeError('EDGE_USAGE', `not an Event Hubs connection string: ${errorMessage(cause)}`, { cause });
    }
    if (!props.eventHubName) throw new EdgeError('EDGE_USAGE', 'the Event Hubs connection string needs EntityPath=<event hub name>');
    this.options = options;
    this.consumerGroup = options.consumerGroup ?? '$Default';
    this.id = `event-hubs:${props.fullyQualifiedNamespace}/${props.eventHubName}/${this.consumerGroup}`;
  }

  async open(committed: CommittedPositions): Promise<void> {
    const checkpointStore = storeBackedCheckpoints(committed, this.options.ownership ?? inMemoryOwnership());
    const clientOptions: { loadBalancingOptions?: LoadBalancingOptions; identifier?: string } = {};
    // Alone (ownership in memory) there is nobody to balance with: take every partition in the
    // first cycle instead of one per 10 s cycle, the SDK's balanced pace.
    const alone: LoadBalancingOptions = { strategy: 'greedy' };
    clientOptions.loadBalancingOptions = this.options.loadBalancing ?? (this.options.ownership ? {} : alone);
    if (this.options.instanceId) clientOptions.identifier = this.options.instanceId;
    const client = new EventHubConsumerClient(this.consumerGroup, this.options.connectionString, checkpointStore, clientOptions);
    this.client = client;
    try {
      // The client's AMQP connection is opened here, before the subscription may want it: a
      // subscription closed while *it* is opening the connection aborts the open, and rhea
      // (3.0.5) then re-opens the connection on the peer's late `open`, writes on the socket it
      // already ended and, after the disconnect, arms its idle timer again, which keeps the
      // process alive for 2 x idle_time_out (120 s). A `--once` run with nothing to read closes
      // right after subscribing and hit that about every other time. Links and sessions the
      // subscription is still attaching are safe to abort (rhea-promise waits for their attach,
      // then detaches/ends them); only the connection's open is not.
      await this.answered(client, (abortSignal) => client.getPartitionIds({ abortSignal }));
    } catch (cause) {
      this.client = undefined;
      await client.close().catch(() => undefined);
      throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `Event Hubs: ${errorMessage(cause)}`, { cause });
    }
    this.subscription = client.subscribe(
      {
        processInitialize: async (ctx) => {
          this.owned.set(ctx.partitionId, { events: [], released: 0, drained: [] });
        },
        processClose: async (_reason, ctx) => {
          const buf = this.owned.get(ctx.partitionId);
          this.owned.delete(ctx.partitionId);
          for (const wake of buf?.drained ?? []) wake();
        },
        processEvents: async (events, ctx) => {
          const buf = this.owned.get(ctx.partitionId);
          if (!buf) return;
          // Also on the empty batches the SDK hands over after maxWaitTimeInSeconds: the end can move without us.
          const last = ctx.lastEnqueuedEventProperties?.sequenceNumber;
          if (last !== undefined) buf.end = Math.max(buf.end ?? 0, last + 1);
          if (events.length === 0) return;
          for (const e of events) buf.events.push(toSourceEvent(e, ctx.partitionId));
          this.arrived.notify();
          if (buf.events.length >= (this.options.maxBuffered ?? 2000)) await new Promise<void>((r) => buf.drained.push(r));
        },
        processError: async (err) => {
          this.failure = err;
        },
      },
      // Without a checkpoint the SDK starts at the *latest* event; the reconciler wants everything.
      { skipParsingBodyAsJson: true, maxBatchSize: 500, maxWaitTimeInSeconds: 1, startPosition: earliestEventPosition, trackLastEnqueuedEventProperties: true },
    );
  }

  async partitionIds(): Promise<string[]> {
    this.throwIfFailed();
    return [...this.owned.keys()].sort((a, b) => Number(a) - Number(b));
  }

  async read(partitionId: string, from: number, max: number): Promise<SourceBatch> {
    this.throwIfFailed();
    const buf = this.owned.get(partitionId);
    if (!buf) return { partitionId, events: [], next: from, lastOffset: null };
    const first = buf.events[0];
    if (first && from < first.sequenceNumber && buf.released > 0 && from < buf.released) {
      // Released means committed; asking for it again means the caller lost its place.
      throw new EdgeError('EDGE_USAGE', `Event Hubs partition ${partitionId}: sequence number ${from} was released as committed (up to ${buf.released})`);
    }
    // Nothing is taken out here: a failed commit is retried from the same `from` and must see
    // the same events. Events before `from` stay until `release` (an ownership move or a restart
    // can start the client a little behind the store).
    let start = 0;
    while (start < buf.events.length && buf.events[start]!.sequenceNumber < from) start++;
    const events = buf.events.slice(start, start + max);
    const last = events.at(-1);
    return { partitionId, events, next: last ? last.sequenceNumber + 1 : from, lastOffset: last ? last.offset : null };
  }

  release(partitionId: string, next: number): void {
    const buf = this.owned.get(partitionId);
    if (!buf) return;
    let n = 0;
    while (n < buf.events.length && buf.events[n]!.sequenceNumber < next) n++;
    buf.events.splice(0, n);
    buf.released = Math.max(buf.released, next);
    if (buf.events.length < (this.options.maxBuffered ?? 2000)) for (const wake of buf.drained.splice(0)) wake();
  }

  /** `f` under `openTimeoutMs`: past it, an error naming the host that did not answer. */
  private async answered<T>(client: EventHubConsumerClient, f: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const timeoutMs = this.options.openTimeoutMs ?? OPEN_TIMEOUT_MS;
    try {
      return await f(AbortSignal.timeout(timeoutMs));
    } catch (err) {
      throw err instanceof Error && err.name === 'AbortError' ? new Error(`${client.fullyQualifiedNamespace} did not answer within ${timeoutMs / 1000} s`, { cause: err }) : err;
    }
  }

  /**
   * Where each partition ends now (partitionId → the sequence number the next event will get),
   * from the hub's `$management` node: what "drain what is there" means for a push source.
   */
  async ends(): Promise<Map<string, number>> {
    const client = new EventHubConsumerClient(this.consumerGroup, this.options.connectionString);
    try {
      const out = new Map<string, number>();
      const props = await this.answered(client, async (abortSignal) => {
        const ids = await client.getPartitionIds({ abortSignal });
        return Promise.all(ids.map((p) => client.getPartitionProperties(p, { abortSignal })));
      });
      for (const p of props) out.set(p.partitionId, p.lastEnqueuedSequenceNumber + 1);
      return out;
    } catch (cause) {
      throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `Event Hubs: ${errorMessage(cause)}`, { cause });
    } finally {
      await client.close();
    }
  }

  /**
   * From the last batch the client delivered for the partition; before the first (an empty
   * partition delivers none), once from its `$management` properties. Undefined for a partition
   * not owned.
   */
  async partitionEnd(partitionId: string): Promise<number | undefined> {
    const buf = this.owned.get(partitionId);
    if (!buf || !this.client) return undefined;
    if (buf.end === undefined) {
      const end = (await this.client.getPartitionProperties(partitionId)).lastEnqueuedSequenceNumber + 1;
      buf.end = Math.max(buf.end ?? 0, end);
    }
    return buf.end;
  }

  /** Events received and not yet read, over the partitions owned now. */
  buffered(): number {
    let n = 0;
    for (const buf of this.owned.values()) n += buf.events.length;
    return n;
  }

  async close(): Promise<void> {
    for (const buf of this.owned.values()) for (const wake of buf.drained.splice(0)) wake();
    await this.subscription?.close();
    await this.client?.close();
    await this.options.ownership?.close?.();
  }

  private throwIfFailed(): void {
    if (this.failure === undefined) return;
    const err = this.failure;
    this.failure = undefined;
    throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `Event Hubs: ${errorMessage(err)}`, { cause: err });
  }
}

/** Maps a received IoT Hub event to the reconciler's shape (body as raw bytes, properties as strings). */
export function toSourceEvent(e: ReceivedEventData, partitionId: string): SourceEvent {
  const sys: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.systemProperties ?? {})) {
    if (v === undefined || v === null) continue;
    // The SDK names AMQP message properties in camelCase (messageId, contentEncoding, …); IoT Hub
    // and the reconciler's rules name them as the MQTT property bag does (message-id, …).
    const key = /^[a-z]+[A-Z]/.test(k) ? k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()) : k;
    // Timestamps arrive as Dates, or as epoch ms once the SDK has flattened annotations.
    const time = v instanceof Date ? v : key === 'iothub-enqueuedtime' && typeof v === 'number' ? new Date(v) : undefined;
    sys[key] = time ? time.toISOString() : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  const raw = e.getRawAmqpMessage().properties;
  if (raw?.contentEncoding && !sys['content-encoding']) sys['content-encoding'] = raw.contentEncoding;
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.properties ?? {})) props[k] = String(v);
  const body: unknown = e.body;
  return {
    partitionId,
    sequenceNumber: e.sequenceNumber,
    offset: String(e.offset),
    enqueuedTime: e.enqueuedTimeUtc.getTime(),
    // IoT Hub always sets the system property; a plain Event Hub (tests, custom routing
    // endpoints) has none, so the application property of the same name stands in.
    deviceId: sys['iothub-connection-device-id'] ?? props['iothub-connection-device-id'] ?? '',
    systemProperties: sys,
    properties: props,
    body: Buffer.isBuffer(body) ? body : body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

/**
 * The CheckpointStore the consumer client gets: checkpoints are read from the reconciler's store
 * (where they were committed with the data) and never written by the client; ownership is
 * delegated. The client resumes *after* a checkpoint's offset, i.e. at `next`.
 */
export function storeBackedCheckpoints(committed: CommittedPositions, ownership: OwnershipStore): CheckpointStore {
  return {
    listOwnership: (ns, hub, group) => ownership.listOwnership(ns, hub, group),
    claimOwnership: (claims) => ownership.claimOwnership(claims),
    updateCheckpoint: async () => undefined,
    listCheckpoints: async (fullyQualifiedNamespace, eventHubName, consumerGroup): Promise<Checkpoint[]> => {
      const out: Checkpoint[] = [];
      for (const [partitionId, p] of await committed()) {
        // Without an offset (nothing read yet) the client falls back to the earliest event.
        if (p.lastOffset !== null) out.push({ fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, sequenceNumber: p.next - 1, offset: p.lastOffset });
      }
      return out;
    },
  };
}

/** Ownership for a single instance: claims always succeed, with fresh etags. */
export function inMemoryOwnership(): Pick<CheckpointStore, 'listOwnership' | 'claimOwnership'> {
  const owners = new Map<string, PartitionOwnership>();
  let etag = 0;
  return {
    listOwnership: async () => [...owners.values()],
    claimOwnership: async (claims) =>
      claims.map((c) => {
        const claimed = { ...c, etag: String(++etag), lastModifiedTimeInMs: Date.now() };
        owners.set(c.partitionId, claimed);
        return claimed;
      }),
  };
}
