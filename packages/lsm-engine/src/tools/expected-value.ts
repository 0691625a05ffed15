// The value the crash-loop writer stores under each key: derived from the key, so a torn,
// truncated or misplaced value cannot pass for a correct one.
export function expectedValue(key: string): string {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) >>> 0;
  const repeat = 1 + (h % 200);
  return `${key}:${h.toString(16)}:`.repeat(repeat);
}
