// What a program counter is named: function, source file and line, each null when unknown
// (an ELF symbol has no file or line; a frame nothing names has none of them).

export interface SourceSymbol {
  fn: string | null;
  file: string | null;
  line: number | null;
}

export const UNNAMED: SourceSymbol = Object.freeze({ fn: null, file: null, line: null });
