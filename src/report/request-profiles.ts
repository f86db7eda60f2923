// The profiles of the requests a report shows: samples read from the profile files the logs
// name, grouped by (session, method, id), each turned into the HTML the report puts in a
// slow request's details: a line with its CPU and wait, a flame graph of its CPU samples and
// its top functions.

import { topFunctions } from '../model/profile-top';
import { leafOnlyBinaries, leafOnlyText } from '../model/leaf-stacks';
import type { ProfileSample } from '../model/profile-file';
import { profileFilesFrom, profileFilesOf } from '../profile/profile-command';
import { emptyProfileData, readProfileFile } from '../profile/profile-reader';
import { escapeHtml } from './escape-html';
import { renderFlameGraph } from './flame-graph';

/** Rows of the top-functions table under each flame graph. */
const TOP_ROWS = 5;

export interface ProfiledRequest {
  session: string;
  method: string;
  id: number | string | null;
}

const key = (session: string | null | undefined, method: string | null, id: string | number | null): string => `${session ?? ''}\0${method ?? ''}\0${id ?? ''}`;

export class RequestProfiles {
  private constructor(private readonly byRequest: ReadonlyMap<string, ProfileSample[]>) {}

  /**
   * Reads every profile file the logs name; files that cannot be read are skipped.
   * profileFields: each log's `session end` profileFile fields, when the caller read the
   * logs already (a month's report reads them once); else each log is read for them here.
   */
  static async load(logs: readonly string[], profileFields: ReadonlyMap<string, readonly string[]> | null = null): Promise<RequestProfiles> {
    const data = emptyProfileData();
    const seen = new Set<string>();
    for (const log of logs) {
      if (log === '-') continue;
      let files: string[] = [];
      try {
        files = profileFields === null ? await profileFilesOf(log) : profileFilesFrom(log, profileFields.get(log) ?? []);
      } catch {
        continue; // an unreadable log: the report says so itself
      }
      for (const file of files) {
        if (seen.has(file)) continue;
        seen.add(file);
        try {
          readProfileFile(file, data);
        } catch {
          // gone or unreadable: those requests show no profile
        }
      }
    }
    const byRequest = new Map<string, ProfileSample[]>();
    for (const s of data.samples) {
      if (s.id === null) continue;
      for (const k of [key(s.session, s.method, s.id), key(null, s.method, s.id)]) {
        let list = byRequest.get(k);
        if (!list) byRequest.set(k, (list = []));
        list.push(s);
      }
    }
    return new RequestProfiles(byRequest);
  }

  get size(): number {
    return this.byRequest.size;
  }

  /** The request's profile as HTML, or null when it has no samples. */
  htmlFor(r: ProfiledRequest): string | null {
    const samples = this.byRequest.get(key(r.session, r.method, r.id)) ?? this.byRequest.get(key(null, r.method, r.id === null ? null : String(r.id)));
    if (!samples || samples.length === 0) return null;
    const cpu = samples.filter((s) => s.kind === 'cpu');
    const wait = samples.filter((s) => s.kind === 'wait');
    const ms = (ns: number): string => `${Math.round(ns / 1e6).toLocaleString('en-US')} ms`;
    const sum = (xs: ProfileSample[]): { ns: number; count: number } => ({ ns: xs.reduce((n, s) => n + s.valueNs, 0), count: xs.reduce((n, s) => n + s.count, 0) });
    const c = sum(cpu), w = sum(wait);
    const head = `<p class="profile-head">On CPU ${ms(c.ns)} (${c.count.toLocaleString('en-US')} samples)${w.count > 0 ? `; waiting ${ms(w.ns)}, in ${escapeHtml(topFunctions(wait, 1).functions[0]?.name ?? '?')} most` : ''}.</p>`;
    if (cpu.length === 0) return head;
    const top = topFunctions(cpu, TOP_ROWS);
    const pct = (ns: number): string => `${top.totalNs > 0 ? ((100 * ns) / top.totalNs).toFixed(1) : '0.0'}%`;
    const rows = top.functions.map((f) => `<tr><td>${pct(f.flatNs)}</td><td>${pct(f.cumNs)}</td><td>${escapeHtml(f.name)}</td></tr>`).join('');
    const leafOnly = leafOnlyBinaries(cpu);
    const note = leafOnly.length > 0 ? `\n<p class="profile-note">Stacks stop at the leaf in ${escapeHtml(leafOnlyText(leafOnly))}: built without frame pointers, so their callers are missing from the graph.</p>` : '';
    return `${head}${note}\n${renderFlameGraph(cpu, { label: `CPU flame graph of ${r.method} ${String(r.id)}` })}\n<table class="profile-top"><thead><tr><th>self</th><th>total</th><th>function</th></tr></thead><tbody>${rows}</tbody></table>`;
  }
}
