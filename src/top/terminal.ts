// Draws frames on a terminal with plain ANSI/VT100 sequences: the alternate screen, a
// hidden cursor, and per frame only the rows that changed (cursor to the row, the text,
// erase to end of line), written as one string inside a synchronized-update pair that
// terminals without it ignore. Nothing is cleared between frames, so nothing flickers, and
// an unchanged screen costs no bytes (over SSH, a steady view sends only its clock).
// Why no library: the view needs five escape sequences that every terminal since the
// VT100 knows; blessed is unmaintained since 2015 and ink brings React and is ESM-only,
// while this project is CommonJS; plain sequences keep `lsptap top` dependency-free.

const ESC = '\x1b[';

export interface Screen {
  readonly cols: number;
  readonly rows: number;
  draw(lines: string[]): void;
  close(): void;
}

export class AnsiScreen implements Screen {
  private shown: string[] = [];
  private closed = false;

  constructor(private readonly out: NodeJS.WriteStream) {
    out.write(`${ESC}?1049h${ESC}?25l${ESC}2J`);
    out.on('resize', () => { this.shown = []; out.write(`${ESC}2J`); });
  }

  get cols(): number { return this.out.columns || 80; }
  get rows(): number { return this.out.rows || 24; }

  draw(lines: string[]): void {
    if (this.closed) return;
    let frame = '';
    for (let i = 0; i < this.rows; i++) {
      const line = lines[i] ?? '';
      if (this.shown[i] === line) continue;
      frame += `${ESC}${i + 1};1H${line}${ESC}K`;
    }
    this.shown = lines.slice(0, this.rows);
    if (frame.length > 0) this.out.write(`${ESC}?2026h${frame}${ESC}?2026l`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.write(`${ESC}?25h${ESC}?1049l`);
  }
}
