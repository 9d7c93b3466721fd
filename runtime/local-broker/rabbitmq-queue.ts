import { connect } from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger.ts';
import type { StoredEvent } from './dispatch.ts';
import type { DurableQueue, Handler } from './queue.ts';

/**
 * A durable queue on RabbitMQ (RABBITMQ_URL): the local stand-in for the cluster's RabbitMQ broker.
 * `publish` sends a persistent message to a durable queue on a confirm channel and resolves on the
 * broker's confirm, so a 202 means RabbitMQ has it. The consumer acks a message only after the
 * worker stored it (or it was dead-lettered); a message in hand when the process dies, or handed
 * back after a hold, is redelivered by RabbitMQ.
 *
 * A classic queue, not a quorum queue: RabbitMQ 4 gives quorum queues a default delivery limit
 * (20) after which a message that keeps failing is dropped, which a long database outage reaches.
 */
export class RabbitmqQueue implements DurableQueue {
  private model: ChannelModel | undefined;
  private publisher: ConfirmChannel | undefined;
  private consumer: Channel | undefined;
  private handler: Handler | undefined;
  private closed = false;
  private reconnecting: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly url: string,
    private readonly queue: string,
    private readonly concurrency: number,
    private readonly log: Logger,
  ) {}

  /** Connects and declares the queue; throws when RabbitMQ is unreachable at start-up. */
  async open(): Promise<void> {
    const model = await connect(this.url);
    model.on('error', (error: Error) => this.log.warn('rabbitmq connection error', { error: error.message }));
    model.on('close', () => this.lost());
    const publisher = await model.createConfirmChannel();
    await publisher.assertQueue(this.queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    const consumer = await model.createChannel();
    await consumer.prefetch(this.concurrency);
    this.model = model;
    this.publisher = publisher;
    this.consumer = consumer;
    if (this.handler) await this.startConsuming(this.handler);
  }

  async publish(event: StoredEvent): Promise<void> {
    const channel = this.publisher;
    if (!channel) throw new Error('not connected to RabbitMQ');
    await new Promise<void>((resolve, reject) => {
      channel.sendToQueue(
        this.queue,
        Buffer.from(event.body),
        { persistent: true, messageId: event.id, headers: event.headers },
        (error: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
      );
    });
  }

  async consume(handle: Handler): Promise<void> {
    this.handler = handle;
    if (this.consumer) await this.startConsuming(handle);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnecting);
    await Promise.all(this.running);
    // Unacked messages go back to the queue when the connection closes.
    await this.model?.close().catch(() => undefined);
  }

  private async startConsuming(handle: Handler): Promise<void> {
    const channel = this.consumer;
    if (!channel) return;
    await channel.consume(this.queue, (message) => {
      if (message) this.track(this.handleMessage(channel, message, handle));
    });
  }

  private async handleMessage(channel: Channel, message: ConsumeMessage, handle: Handler): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message.properties.headers ?? {})) {
      if (value !== undefined && value !== null) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
    }
    const event: StoredEvent = { id: String(message.properties.messageId ?? headers['ce-id'] ?? ''), headers, body: message.content.toString('utf8') };
    const done = await handle(event).catch((error: unknown) => {
      this.log.error('outbox delivery failed', { eventId: event.id, error });
      return false;
    });
    try {
      if (done) channel.ack(message);
      else channel.nack(message, false, true);
    } catch (error) {
      // The channel is gone: RabbitMQ redelivers the message to the next consumer.
      this.log.warn('rabbitmq: could not settle a message (it will be redelivered)', { eventId: event.id, error });
    }
  }

  private track(run: Promise<void>): void {
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private lost(): void {
    this.model = undefined;
    this.publisher = undefined;
    this.consumer = undefined;
    if (this.closed) return;
    this.log.warn('rabbitmq connection lost; saves answer 503 until it is back');
    this.reconnect(1000);
  }

  private reconnect(delayMs: number): void {
    this.reconnecting = setTimeout(() => {
      if (this.closed) return;
      this.open().then(
        () => this.log.info('rabbitmq connection restored'),
        () => this.reconnect(Math.min(delayMs * 2, 10_000)),
      );
    }, delayMs);
  }
}
