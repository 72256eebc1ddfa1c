import type { Message } from 'rhea';
import type { MessageLogReader } from '../hub-event.js';

/**
 * The `$management` node's READ operations, as the Event Hubs SDK asks them
 * (getEventHubProperties / getPartitionProperties): the request's application properties name
 * the operation, the entity and the type; the answer is an AMQP map in the body with the
 * service's snake_case field names, and a `status-code` in the application properties.
 */
export interface ManagementContext {
  log: MessageLogReader;
  hubName: string;
  createdAt: number;
  /** Verifies the request's `security_token` for the hub; true when it grants access. */
  authorised(securityToken: unknown): boolean;
}

export interface ManagementReply {
  status: number;
  description: string;
  body?: Record<string, unknown>;
}

export async function handleManagement(request: Message, ctx: ManagementContext): Promise<ManagementReply> {
  const props = (request.application_properties ?? {}) as Record<string, unknown>;
  if (props.operation !== 'READ') return { status: 400, description: `unsupported operation ${String(props.operation)}` };
  if (!ctx.authorised(props.security_token)) return { status: 401, description: 'the security token does not grant access to this hub' };
  if (typeof props.name !== 'string' || props.name.toLowerCase() !== ctx.hubName.toLowerCase()) {
    return { status: 404, description: `no event hub '${String(props.name)}'` };
  }
  if (props.type === 'com.microsoft:eventhub') {
    return {
      status: 200,
      description: 'OK',
      body: {
        name: ctx.hubName,
        type: 'com.microsoft:eventhub',
        created_at: new Date(ctx.createdAt),
        partition_count: ctx.log.partitionCount,
        partition_ids: Array.from({ length: ctx.log.partitionCount }, (_, i) => String(i)),
      },
    };
  }
  if (props.type === 'com.microsoft:partition') {
    const partition = Number(props.partition);
    if (!/^\d+$/.test(String(props.partition)) || partition >= ctx.log.partitionCount) {
      return { status: 404, description: `no partition '${String(props.partition)}'` };
    }
    const end = await ctx.log.endOf(partition);
    const [last] = end > 0 ? await ctx.log.read(partition, end - 1, 1) : [];
    return {
      status: 200,
      description: 'OK',
      body: {
        name: ctx.hubName,
        type: 'com.microsoft:partition',
        partition: String(partition),
        begin_sequence_number: 0,
        last_enqueued_sequence_number: last ? last.sequenceNumber : -1,
        last_enqueued_offset: last ? String(last.offset) : '-1',
        last_enqueued_time_utc: new Date(last ? last.enqueuedTime : 0),
        is_partition_empty: !last,
      },
    };
  }
  return { status: 400, description: `unsupported type ${String(props.type)}` };
}
