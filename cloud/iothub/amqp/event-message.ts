import rhea, { type Message } from 'rhea';
import type { HubEvent } from '../hub-event.js';

/**
 * A message-log entry as IoT Hub's Event Hub-compatible endpoint delivers it over AMQP: the body
 * as one data section, the MQTT property bag's system properties as AMQP message properties
 * where AMQP has a field for them (message_id, correlation_id, user_id, to, content_type,
 * content_encoding), everything else the hub stamped (`iothub-connection-device-id`,
 * `iothub-enqueuedtime`, `iothub-message-source`, `dt-subject`, …) as message annotations, and
 * the Event Hubs position as `x-opt-sequence-number`, `x-opt-offset` (a string, as the service
 * sends it) and `x-opt-enqueued-time`. Application properties are the device's own.
 *
 * `iothub-enqueuedtime` travels as an AMQP timestamp as IoT Hub sends it; every other value
 * is the string the log holds, so nothing is lost on the way.
 */
const AS_AMQP_PROPERTY: Readonly<Record<string, 'message_id' | 'correlation_id' | 'to' | 'content_type' | 'content_encoding'>> = {
  'message-id': 'message_id',
  'correlation-id': 'correlation_id',
  to: 'to',
  'content-type': 'content_type',
  'content-encoding': 'content_encoding',
};

export function toAmqpMessage(e: HubEvent): Message {
  const annotations: Record<string, unknown> = {
    'x-opt-sequence-number': rhea.types.wrap_long(e.sequenceNumber),
    'x-opt-offset': String(e.offset),
    'x-opt-enqueued-time': new Date(e.enqueuedTime),
  };
  const message: Message = { body: rhea.message.data_section(e.body), application_properties: { ...e.properties } };
  for (const [key, value] of Object.entries(e.systemProperties)) {
    const field = AS_AMQP_PROPERTY[key];
    if (field) message[field] = value;
    else if (key === 'user-id') message.user_id = value;
    else if (key === 'iothub-enqueuedtime' && !Number.isNaN(Date.parse(value))) annotations[key] = new Date(value);
    else annotations[key] = value;
  }
  message.message_annotations = annotations;
  return message;
}
