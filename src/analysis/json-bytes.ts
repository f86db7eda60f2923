// The JSON structural bytes both body readers (the streaming scanner and the small-body fast
// path) compare against: one list, so the two cannot disagree on what a token is.

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const COLON = 0x3a;
export const COMMA = 0x2c;
