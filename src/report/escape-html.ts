// Text into HTML or SVG markup: the five characters that could end a text node or an
// attribute value become character references.

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
