/**
 * The errno code of a Node.js system error (`ENOENT`, `EACCES`, ...), or
 * undefined for anything else. One reader for every module that branches on
 * or reports an errno, so that odd values (a non-string `code`) are handled once.
 */
export function errnoOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

/** The errno code, or the error's message when it has none: for texts that must say something. */
export function errnoOrMessage(error: unknown): string {
  return errnoOf(error) ?? (error instanceof Error ? error.message : String(error));
}
