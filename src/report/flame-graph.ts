// A flame graph of profile samples as an inline SVG string, for the HTML report: no script,
// no style attribute (presentation attributes only, so any Content-Security-Policy the page
// has holds), a <title> per box for the browser's own tooltip, and a bounded size. Classic
// layout: the root at the bottom, callers below callees, a box's width its cumulative time,
// siblings merged by name and sorted by name (flamegraph.pl's order, so two graphs of the
// same code line up). Boxes narrower than minFraction of the total, deeper than maxDepth, or
// past maxNodes (smallest first) are left out; their time stays in the parent's width.

import type { ProfileSample } from '../model/profile-file';
import { KERNEL_MAPPING_FILE } from '../model/profile-file';
import { frameName } from '../model/profile-top';
import { escapeHtml } from './escape-html';

export interface FlameGraphOptions {
  widthPx?: number;
  /** Boxes smaller than this share of the total are left out (default 0.002: 2 px of 1,000). */
  minFraction?: number;
  maxDepth?: number;
  maxNodes?: number;
  /** Read by screen readers and shown above nothing: the graph's accessible name. */
  label?: string;
}

const ROW_PX = 16;
const FONT_PX = 11;
/** Average advance of the 11 px monospace font, to cut labels to their box. */
const CHAR_PX = 6.6;

interface Node {
  name: string;
  kernel: boolean;
  valueNs: number;
  children: Map<string, Node>;
}

export function renderFlameGraph(samples: readonly ProfileSample[], options: FlameGraphOptions = {}): string {
  const width = options.widthPx ?? 1000;
  const minFraction = options.minFraction ?? 0.002;
  const maxDepth = options.maxDepth ?? 64;
  const maxNodes = options.maxNodes ?? 500;
  const root: Node = { name: 'all', kernel: false, valueNs: 0, children: new Map() };
  for (const s of samples) {
    root.valueNs += s.valueNs;
    let node = root;
    for (let i = s.stack.length - 1; i >= 0; i--) {
      const f = s.stack[i];
      const name = frameName(f);
      let child = node.children.get(name);
      if (!child) node.children.set(name, (child = { name, kernel: f.mapping?.file === KERNEL_MAPPING_FILE, valueNs: 0, children: new Map() }));
      child.valueNs += s.valueNs;
      node = child;
    }
  }
  const minNs = root.valueNs * minFraction;
  // Keep the largest boxes: a box is only kept if its parent is, and parents are larger.
  const candidates: { node: Node; depth: number }[] = [];
  const walk = (node: Node, depth: number): void => {
    for (const c of node.children.values()) {
      if (c.valueNs < minNs || depth >= maxDepth) continue;
      candidates.push({ node: c, depth });
      walk(c, depth + 1);
    }
  };
  walk(root, 1);
  const kept = new Set(candidates.sort((a, b) => b.node.valueNs - a.node.valueNs).slice(0, Math.max(0, maxNodes - 1)).map((c) => c.node));
  let depthUsed = 0;
  const placed: { node: Node; x: number; w: number; depth: number }[] = [];
  const scale = root.valueNs > 0 ? width / root.valueNs : 0;
  const place = (node: Node, x: number, depth: number): void => {
    depthUsed = Math.max(depthUsed, depth);
    placed.push({ node, x: x * scale, w: node.valueNs * scale, depth });
    let cx = x;
    for (const c of [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (kept.has(c)) place(c, cx, depth + 1);
      cx += c.valueNs;
    }
  };
  if (root.valueNs > 0) place(root, 0, 0);
  const height = (depthUsed + 1) * ROW_PX;
  const boxes = placed.map((p) => box(p.node, p.x, p.w, height - (p.depth + 1) * ROW_PX, root.valueNs));
  return `<svg xmlns="http://www.w3.org/2000/svg" class="flame-graph" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeHtml(options.label ?? 'flame graph')}" font-family="monospace" font-size="${FONT_PX}">\n${boxes.join('\n')}\n</svg>`;
}

/** One box: its rect's top at y (the root's row is the bottom one). */
function box(node: Node, x: number, w: number, y: number, totalNs: number): string {
  const pct = totalNs > 0 ? (100 * node.valueNs) / totalNs : 0;
  const title = `${node.name} (${(node.valueNs / 1e6).toFixed(1)} ms, ${pct.toFixed(1)}%)`;
  const chars = Math.floor((w - 4) / CHAR_PX);
  const label = chars >= 3 ? (node.name.length <= chars ? node.name : `${node.name.slice(0, chars - 1)}…`) : '';
  const text = label === '' ? '' : `<text x="${round(x + 2)}" y="${y + ROW_PX - 4}">${escapeHtml(label)}</text>`;
  return `<g><title>${escapeHtml(title)}</title><rect x="${round(x)}" y="${y}" width="${round(Math.max(w - 0.5, 0.5))}" height="${ROW_PX - 1}" fill="${color(node)}"/>${text}</g>`;
}

function round(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

/** flamegraph.pl's warm palette, the hue picked by the name (so a function keeps its colour); the kernel in orange-brown. */
function color(node: Node): string {
  let h = 0;
  for (let i = 0; i < node.name.length; i++) h = (h * 31 + node.name.charCodeAt(i)) >>> 0;
  if (node.kernel) return `rgb(${200 + (h % 40)},${110 + ((h >>> 8) % 40)},40)`;
  if (node.name === 'all') return 'rgb(200,200,200)';
  return `rgb(${205 + (h % 50)},${(h >>> 8) % 230},${(h >>> 16) % 55})`;
}
