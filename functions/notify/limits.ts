/**
 * The notifier's limits, in one place. Sources: SNS Publish API reference
 * (Message at most 256 KB; Subject at most 100 characters, ASCII, starting
 * with a letter, number or punctuation mark, no line breaks or control
 * characters); CloudWatch Logs FilterLogEvents API reference (at most 100
 * logStreamNames, `limit` 1-10,000 events per page); SQS ReceiveMessage (at
 * most 10 messages); Lambda (the function's timeout in serverless.yml).
 */

export const NOTIFY_LIMITS = {
  /** SNS: the whole Message, all protocols' texts together when MessageStructure is json. */
  snsMessageMaxBytes: 262_144,
  snsSubjectMaxChars: 100,
  /**
   * The e-mail body. Far below SNS's limit: mail clients clip long messages
   * (Gmail at about 100 KB) and a page of evidence is read, a book is not.
   */
  emailMaxBytes: 16_000,
  /**
   * A chat notification's description. Slack shows about 3,000 characters of
   * a section before cutting; the chat message is a summary with links.
   */
  chatDescriptionMaxChars: 3_000,
  chatTitleMaxChars: 250,
  chatNextStepsMax: 5,
  /** The webhook's JSON body. */
  webhookMaxBytes: 64_000,
  /** Hosts shown in full (table, path changes, MTR) while the budget lasts; the rest get one line each. */
  hostsInDetail: 10,
  /** Hosts listed at all; past this a count. */
  hostsListed: 100,
  /** Resources shown per host: the flagged ones first. */
  resourcesPerHost: 12,
  /** MTR lines per host (resource and gateway sections together), and characters. */
  mtrLinesPerHost: 40,
  mtrCharsPerHost: 3_000,
  /** Any one value from a host (name, target, warning, error text) in a message. */
  valueMaxChars: 200,
  /** Longer free text from a host (stderr, a tunnel's status text). */
  textMaxChars: 400,
  warningsPerHost: 3,
  /** Lines of the dispatch function's log shown for the dispatch-failing alarm. */
  dispatchLogLines: 10,
  /** Dead-letter messages peeked at (ReceiveMessage takes at most 10). */
  deadLetters: 10,
} as const;

/** How the evidence is gathered: bounded in calls, records and time. */
export const EVIDENCE_LIMITS = {
  /** Events per FilterLogEvents page. */
  pageEvents: 100,
  /** Pages read per query, empty pages included (FilterLogEvents may return empty pages while it scans). */
  maxPages: 20,
  /** Record events read per query; the rest are not needed to show a page of evidence. */
  maxEvents: 300,
  /** FilterLogEvents takes at most 100 stream names. */
  maxStreams: 100,
  /** Alarm history pages read to find when an alarm went into ALARM. */
  historyPages: 3,
  /** All evidence gathering, AWS calls included: the notification goes out after this whatever is missing. */
  budgetMs: 20_000,
} as const;

/**
 * The webhook: attempts, backoff and time. The whole delivery (every attempt
 * and wait) ends within `totalMs`, after the e-mail was published, well within
 * the function's 60 s timeout together with the evidence budget.
 */
export const WEBHOOK_POLICY = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 4_000,
  attemptTimeoutMs: 5_000,
  totalMs: 20_000,
} as const;

export type WebhookPolicy = { [K in keyof typeof WEBHOOK_POLICY]: number };

/** The notifier's Lambda timeout (serverless.yml `functions.notify.timeout`), checked by a template test. */
export const NOTIFY_TIMEOUT_SECONDS = 60;
