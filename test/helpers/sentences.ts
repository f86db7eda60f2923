// Reading the sentences lsptap writes for slow requests back into numbers, as a person
// would: the whole (`initialize 395 ms:`) and each part (`287 ms before pylsp read it`),
// splitting at the commas outside parentheses (thread time in parentheses is no part).

export interface ReadSentence { method: string; wholeMs: number; parts: { ms: number; text: string }[] }

const num = (s: string): number => Number(s.replace(/,/g, ''));

export function readSentence(line: string): ReadSentence {
  const head = /^(\S+) ([\d,]+) ms: (.*)$/.exec(line.trim());
  if (head === null) throw new Error(`not a sentence: ${line}`);
  const parts: { ms: number; text: string }[] = [];
  let depth = 0, from = 0;
  const body = head[3];
  const take = (s: string): void => {
    const m = /^([\d,.]+) ms (.*)$/.exec(s.trim());
    if (m === null) throw new Error(`part without a figure: ${JSON.stringify(s)} in ${line}`);
    parts.push({ ms: num(m[1]), text: m[2] });
  };
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '(') depth++;
    else if (body[i] === ')') depth--;
    else if (body[i] === ',' && depth === 0 && body[i + 1] === ' ' && /^ [\d,.]+ ms /.test(body.slice(i + 1))) { take(body.slice(from, i)); from = i + 1; }
  }
  take(body.slice(from));
  return { method: head[1], wholeMs: num(head[2]), parts };
}

/**
 * Why a sentence does not add up, or null: a part larger than its whole, or parts that leave
 * more than 10 % of it unexplained (or say more than it, beyond rounding).
 */
export function sentenceFault(line: string): string | null {
  const s = readSentence(line);
  const sum = s.parts.reduce((a, p) => a + p.ms, 0);
  // The whole is rounded to 1 ms and each part to 0.1 ms (or 1 ms above 10 ms).
  const slack = 0.5 + s.parts.length * 0.5;
  for (const p of s.parts) if (p.ms > s.wholeMs + slack) return `part "${p.ms} ms ${p.text}" is larger than its whole (${s.wholeMs} ms): ${line}`;
  if (sum > s.wholeMs + slack) return `parts add up to ${sum} ms, more than the whole ${s.wholeMs} ms: ${line}`;
  if (sum < 0.9 * s.wholeMs - slack) return `parts add up to ${sum} ms, leaving more than 10 % of ${s.wholeMs} ms unexplained: ${line}`;
  for (let i = 1; i < s.parts.length; i++) if (s.parts[i].ms > s.parts[i - 1].ms + 0.05) return `parts are not largest first: ${line}`;
  return null;
}
