/**
 * Publishing to the stack's alarm topic. The evidence-rich notification goes
 * out with MessageStructure `json` (SNS Publish API reference), one text per
 * protocol: `email` and `email-json` get the plain-text message, `sms` the
 * subject, and `default` (every other protocol: the chat integration's https
 * subscription, SQS, Lambda) the chat custom notification, the only form the
 * chat integration shows. The plain fallback is one text for all.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { NOTIFY_LIMITS } from './limits.ts';
import { utf8Bytes } from './safe-text.ts';

export interface Publisher {
  /** Returns SNS's MessageId. `signal` ends the call (and the SDK's retries). */
  publish(message: { subject: string; email: string; chat: string }, signal?: AbortSignal): Promise<string>;
  publishPlain(message: { subject: string; text: string }, signal?: AbortSignal): Promise<string>;
}

/** The Message of a per-protocol publish. Throws when it would exceed SNS's limit (the composer keeps far below). */
export function protocolMessage(message: { subject: string; email: string; chat: string }): string {
  const body = JSON.stringify({
    default: message.chat,
    email: message.email,
    'email-json': message.email,
    sms: message.subject,
  });
  if (utf8Bytes(body) > NOTIFY_LIMITS.snsMessageMaxBytes) {
    throw new RangeError(
      `notification of ${utf8Bytes(body)} bytes exceeds SNS's ${NOTIFY_LIMITS.snsMessageMaxBytes}`,
    );
  }
  return body;
}

export function createSnsPublisher(sns: SNSClient, topicArn: string): Publisher {
  return {
    async publish(message, signal) {
      const answer = await sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: message.subject,
          MessageStructure: 'json',
          Message: protocolMessage(message),
        }),
        signal === undefined ? {} : { abortSignal: signal },
      );
      return answer.MessageId ?? '';
    },
    async publishPlain(message, signal) {
      const answer = await sns.send(
        new PublishCommand({ TopicArn: topicArn, Subject: message.subject, Message: message.text }),
        signal === undefined ? {} : { abortSignal: signal },
      );
      return answer.MessageId ?? '';
    },
  };
}
