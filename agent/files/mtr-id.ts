/**
 * The MTR id names a round's MTR text files and appears in the JSON line, so
 * people grep for it. The old script used `date +%Y%m%d%H%M%S`: the host's
 * local time, which is what a person on the host expects to see.
 */
export function formatMtrId(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    pad(date.getFullYear(), 4) +
    pad(date.getMonth() + 1) +
    pad(date.getDate()) +
    pad(date.getHours()) +
    pad(date.getMinutes()) +
    pad(date.getSeconds())
  );
}
