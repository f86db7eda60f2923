// One order for method and direction names wherever rows are sorted (summary, report, top,
// diff): UTF-16 code-unit order. LSP method names are ASCII, so it reads the same as a
// locale order there; String.prototype.localeCompare's first call builds an ICU collator,
// 4-8 ms of CPU that every session's summary paid for one tie.

/** Negative, zero or positive, as a sort comparator wants. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
