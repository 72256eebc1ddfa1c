import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import rhea, { type Connection, type Container, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import type { Clock } from '../../../agent/core/clock.js';
import type { Logger } from '../../../agent/core/logger.js';
import type { MessageLogReader } from '../hub-event.js';
import { listen } from '../listen.js';
import { checkToken, ConnectionClaims } from './claims.js';
import { handleManagement } from './management.js';
import { PartitionStream } from './partition-stream.js';
import { eventHubsConnectionString, type SharedAccessPolicy } from './policies.js';
import { parseStartFilter, resolveStart, type StartFilter } from './position.js';

/**
 * The emulator's Event Hub-compatible endpoint over AMQP 1.0 (plain TCP on loopback), speaking
 * what `@azure/event-hubs` speaks: CBS put-token on `$cbs` with the hub's SAS policies, READ on
 * `$management`, and receiver links on `<hub>/ConsumerGroups/<group>/Partitions/<n>` positioned
 * by the selector filter, carrying the message log's events with their sequence numbers,
 * offsets and enqueued times. The message log stays the one source of truth: this endpoint
 * keeps no copy, so an event's offset here is its byte offset in the partition file.
 */
export interface AmqpEndpointOptions {
  log: MessageLogReader;
  policies: readonly SharedAccessPolicy[];
  /** The Event Hub-compatible name (`EntityPath`). */
  hubName: string;
  /** Consumer groups that exist (compared case-insensitively, as Event Hubs does). */
  consumerGroups: readonly string[];
  /** Reported as the hub's `createdOn`. */
  createdAt: number;
  clock: Clock;
  logger: Logger;
}

const CBS = '$cbs';
const MANAGEMENT = '$management';
const SELECTOR = 'apache.org:selector-filter:string';
const EPOCH = 'com.microsoft:epoch';
const RUNTIME_METRIC = 'com.microsoft:enable-receiver-runtime-metric';
const PARTITION_ADDRESS = /^\/?([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i;

interface ConnectionState {
  claims: ConnectionClaims;
  /** Reply links of `$cbs` / `$management`, by link name and by target address (how clients name them in `reply_to`). */
  replyLinks: Map<string, Sender>;
}

interface AmqpError {
  condition: string;
  description: string;
}

export interface EndpointEvents {
  /** A receiver link is positioned and streaming (tests wait on it before sending). */
  attached: [partition: number, consumerGroup: string];
}

export class AmqpEventHubEndpoint extends EventEmitter<EndpointEvents> {
  private readonly container: Container;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly connections = new WeakMap<Connection, ConnectionState>();
  /** Open receiver streams per `group\0partition`. */
  private readonly streams = new Map<string, Set<PartitionStream>>();
  private readonly byLink = new WeakMap<Sender, PartitionStream>();
  private boundPort = 0;

  private constructor(private readonly options: AmqpEndpointOptions) {
    super();
    this.container = rhea.create_container({ id: `edge-emulator-${options.hubName}` });
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      const connection = this.container.create_connection();
      (connection as unknown as { accept(s: Socket): void }).accept(socket);
    });
    this.container.on('sender_open', (ctx: EventContext) => void this.onSenderOpen(ctx));
    this.container.on('receiver_open', (ctx: EventContext) => this.onReceiverOpen(ctx));
    this.container.on('message', (ctx: EventContext) => void this.onMessage(ctx));
    this.container.on('sendable', (ctx: EventContext) => {
      if (ctx.sender) this.byLink.get(ctx.sender)?.wake();
    });
    const forget = (ctx: EventContext): void => {
      if (ctx.sender) this.dropStream(ctx.sender);
    };
    this.container.on('sender_close', forget);
    this.container.on('sender_error', forget);
    this.container.on('session_close', (ctx: EventContext) => this.dropStreams((s) => s.link.session === ctx.session));
    this.container.on('disconnected', (ctx: EventContext) => this.dropStreams((s) => s.link.connection === ctx.connection));
    // rhea throws unheard 'error' events; a misbehaving client must not end the emulator.
    this.container.on('error', (err: unknown) => options.logger.debug({ err }, 'AMQP connection error'));
    this.container.on('connection_error', (ctx: EventContext) => options.logger.debug({ err: ctx.connection.error }, 'AMQP connection error'));
  }

  static async start(options: AmqpEndpointOptions, port: number, host: string): Promise<AmqpEventHubEndpoint> {
    const endpoint = new AmqpEventHubEndpoint(options);
    await listen(endpoint.server, port, host, 'AMQP');
    endpoint.boundPort = (endpoint.server.address() as AddressInfo).port;
    return endpoint;
  }

  get port(): number {
    return this.boundPort;
  }

  get hubName(): string {
    return this.options.hubName;
  }

  /** The connection string for a policy (default `service`), as `hub connection-string --events` prints it. */
  connectionString(keyName = 'service'): string {
    const policy = this.options.policies.find((p) => p.keyName === keyName);
    if (!policy) throw new TypeError(`no shared access policy '${keyName}'`);
    return eventHubsConnectionString(`127.0.0.1:${this.boundPort}`, this.options.hubName, policy);
  }

  /** The log grew on `partition`: streams waiting at its end send on. */
  wake(partition: number): void {
    for (const [key, set] of this.streams) {
      if (key.endsWith(`\u0000${partition}`)) for (const s of set) s.wake();
    }
  }

  async stop(): Promise<void> {
    for (const set of this.streams.values()) for (const s of set) s.stop();
    this.streams.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private hosts(): string[] {
    return [`127.0.0.1:${this.boundPort}`, `localhost:${this.boundPort}`];
  }

  private state(connection: Connection): ConnectionState {
    let s = this.connections.get(connection);
    if (!s) {
      s = { claims: new ConnectionClaims(this.options.policies, () => this.hosts(), () => this.options.clock.now()), replyLinks: new Map() };
      this.connections.set(connection, s);
    }
    return s;
  }

  /** A client receiver attached (our sender): a `$cbs`/`$management` reply link, or a partition. */
  private async onSenderOpen(ctx: EventContext): Promise<void> {
    const link = ctx.sender!;
    const state = this.state(ctx.connection);
    const address = link.source?.address ?? '';
    if (address === CBS || address === MANAGEMENT || address.toLowerCase().endsWith('/' + MANAGEMENT)) {
      state.replyLinks.set(link.name, link);
      const target = link.target?.address;
      if (target) state.replyLinks.set(target, link);
      return;
    }
    const m = PARTITION_ADDRESS.exec(address);
    const refuse = (error: AmqpError): void => {
      this.options.logger.debug({ address, ...error }, 'AMQP receiver refused');
      link.close(error);
    };
    // The SDK recognises a missing entity by this wording (MessagingEntityNotFoundError, not retried).
    const notFound = (what: string): AmqpError => ({ condition: 'amqp:not-found', description: `The messaging entity '${what}' could not be found.` });
    if (!m) return refuse(notFound(address));
    const [, hub, group, partitionText] = m;
    if (hub!.toLowerCase() !== this.options.hubName.toLowerCase()) return refuse(notFound(hub!));
    const consumerGroup = this.options.consumerGroups.find((g) => g.toLowerCase() === group!.toLowerCase());
    if (!consumerGroup) return refuse(notFound(`${hub}/ConsumerGroups/${group}`));
    const partition = Number(partitionText);
    if (!/^\d+$/.test(partitionText!) || partition >= this.options.log.partitionCount) {
      return refuse(notFound(address));
    }
    if (!state.claims.covers(address)) return refuse({ condition: 'amqp:unauthorized-access', description: `no valid put-token for '${address}'` });
    const selector: unknown = (link.source?.filter as Record<string, unknown> | undefined)?.[SELECTOR];
    let filter: StartFilter | undefined = { field: 'offset', inclusive: false, value: '-1' };
    if (selector !== undefined) {
      const text = describedText(selector);
      filter = text === undefined ? undefined : parseStartFilter(text);
    }
    if (!filter) return refuse({ condition: 'amqp:invalid-field', description: `unsupported selector filter ${JSON.stringify(selector)}` });
    const epochValue: unknown = link.properties?.[EPOCH];
    const epoch = typeof epochValue === 'number' ? epochValue : undefined;
    const key = `${consumerGroup.toLowerCase()}\u0000${partition}`;
    const set = this.streams.get(key) ?? new Set<PartitionStream>();
    // Event Hubs' exclusive receivers: a higher (or equal) epoch takes the partition from lower
    // ones and from non-epoch receivers; a lower one, or a non-epoch one beside an epoch one, is refused.
    const epochs = [...set].map((s) => s.epoch).filter((e): e is number => e !== undefined);
    if (epochs.length > 0 && (epoch === undefined || epoch < Math.max(...epochs))) {
      return refuse({ condition: 'amqp:link:stolen', description: `a receiver with a higher epoch is open on partition ${partition} of '${consumerGroup}'` });
    }
    const start = await resolveStart(this.options.log, partition, filter);
    if (!link.is_open()) return;
    if (epoch !== undefined) {
      for (const s of [...set]) {
        s.stop({ condition: 'amqp:link:stolen', description: `a receiver with epoch ${epoch} took partition ${partition} of '${consumerGroup}'` });
        set.delete(s);
      }
    }
    const desired = ([] as string[]).concat(link.desired_capabilities ?? []);
    const metric = desired.includes(RUNTIME_METRIC) ? { now: () => this.options.clock.now() } : undefined;
    const stream = new PartitionStream(link, partition, epoch, start, this.options.log, this.options.logger, metric);
    set.add(stream);
    this.streams.set(key, set);
    this.byLink.set(link, stream);
    stream.wake();
    this.emit('attached', partition, consumerGroup);
  }

  /** Receiver links streaming now, over all partitions and consumer groups. */
  openStreams(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  /** A client sender attached (our receiver): only `$cbs` and `$management` take requests. */
  private onReceiverOpen(ctx: EventContext): void {
    const link: Receiver = ctx.receiver!;
    const address = link.target?.address ?? '';
    if (address !== CBS && address !== MANAGEMENT && !address.toLowerCase().endsWith('/' + MANAGEMENT)) {
      link.close({ condition: 'amqp:not-implemented', description: `the emulator's Event Hub-compatible endpoint is read-only ('${address}')` });
    }
  }

  private async onMessage(ctx: EventContext): Promise<void> {
    const request = ctx.message!;
    const address = ctx.receiver?.target?.address ?? '';
    const state = this.state(ctx.connection);
    let reply: { status: number; description: string; body?: Record<string, unknown> };
    if (address === CBS) {
      reply = this.putToken(request, state);
    } else {
      reply = await handleManagement(request, {
        log: this.options.log,
        hubName: this.options.hubName,
        createdAt: this.options.createdAt,
        authorised: (token) => {
          if (typeof token !== 'string') return state.claims.covers(`${this.options.hubName}/${MANAGEMENT}`);
          const verdict = checkToken(token, this.options.policies, this.hosts(), this.options.clock.now());
          return verdict.ok && (verdict.resourcePath === '/' || verdict.resourcePath.toLowerCase() === `/${this.options.hubName.toLowerCase()}`);
        },
      });
    }
    const replyTo = request.reply_to;
    const link = replyTo === undefined ? undefined : state.replyLinks.get(replyTo);
    if (!link || !link.is_open()) {
      this.options.logger.debug({ replyTo }, 'AMQP request without a reply link; dropped');
      return;
    }
    const response: Message = {
      correlation_id: request.message_id,
      application_properties: { 'status-code': reply.status, 'status-description': reply.description },
      body: reply.body ?? null,
    };
    link.send(response);
  }

  private putToken(request: Message, state: ConnectionState): { status: number; description: string } {
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    if (props.operation !== 'put-token') return { status: 400, description: `unsupported $cbs operation ${String(props.operation)}` };
    if (typeof request.body !== 'string') return { status: 400, description: 'put-token needs the token as a string body' };
    const verdict = state.claims.putToken(request.body);
    if (!verdict.ok) {
      this.options.logger.info({ reason: verdict.reason, audience: props.name }, 'AMQP put-token refused');
      return { status: 401, description: `token refused (${verdict.reason})` };
    }
    return { status: 202, description: 'Accepted' };
  }

  private dropStream(link: Sender): void {
    const stream = this.byLink.get(link);
    if (!stream) return;
    stream.stop();
    for (const set of this.streams.values()) set.delete(stream);
  }

  private dropStreams(which: (s: PartitionStream) => boolean): void {
    for (const set of this.streams.values()) {
      for (const s of set) {
        if (which(s)) {
          s.stop();
          set.delete(s);
        }
      }
    }
  }
}

/** The string inside a filter value, which rhea may hand over as a (described) `Typed` wrapper. */
function describedText(v: unknown): string | undefined {
  for (let depth = 0; depth < 4 && v !== null && typeof v === 'object'; depth++) {
    v = v instanceof String ? String(v) : (v as { value?: unknown }).value;
  }
  return typeof v === 'string' ? v : undefined;
}
