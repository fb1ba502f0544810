/**
 * Whether the `YYYY-MM-DD` that starts `text` names a day that exists:
 * `Date.parse` rolls 2026-02-30 over to 2 March and 2026-11-31 to 1 December,
 * so a format check alone lets such dates through. Used wherever a user or a
 * tag gives a date (maintenance windows, report --since).
 */
export function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
