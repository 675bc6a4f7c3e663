/** Publishes JSON messages to a topic; resolves with the message id once the broker has it. */
export interface Publisher {
  publishJson(topic: string, data: unknown, attributes?: Record<string, string>): Promise<string>;
}
