// A markdown report with SVG plots beside it: what `ddia geo run <name> --out DIR` leaves in DIR.
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@ddia/common';

/** A markdown table with padded columns (the layout the repo's formatter keeps). */
export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(3, ...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  return [
    line(headers),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map((r) => line(r.map(String))),
  ].join('\n');
}

export class Report {
  private readonly parts: string[] = [];
  readonly files: string[] = [];

  constructor(
    readonly outDir: string,
    readonly title: string,
  ) {}

  paragraph(text: string): this {
    this.parts.push(text.trim());
    return this;
  }

  heading(text: string, level = 2): this {
    this.parts.push(`${'#'.repeat(level)} ${text}`);
    return this;
  }

  table(headers: string[], rows: (string | number)[][]): this {
    this.parts.push(markdownTable(headers, rows));
    return this;
  }

  code(text: string, lang = ''): this {
    this.parts.push(`\`\`\`${lang}\n${text.trimEnd()}\n\`\`\``);
    return this;
  }

  /** Writes an SVG beside the report and links it. */
  async plot(fileName: string, svg: string, alt: string): Promise<this> {
    await mkdir(this.outDir, { recursive: true });
    await writeFileAtomic(join(this.outDir, fileName), svg);
    this.files.push(fileName);
    this.parts.push(`![${alt}](${fileName})`);
    return this;
  }

  markdown(): string {
    return `# ${this.title}\n\n${this.parts.join('\n\n')}\n`;
  }

  async write(): Promise<string> {
    await mkdir(this.outDir, { recursive: true });
    const path = join(this.outDir, 'report.md');
    await writeFileAtomic(path, this.markdown());
    this.files.push('report.md');
    return path;
  }
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function fmtPct(p: number, digits = 2): string {
  return `${(p * 100).toFixed(digits)}%`;
}

/** The machine a real-process measurement ran on: its latencies include waiting for a CPU. */
export function machineNote(): string {
  const [one, five] = loadavg();
  return `Machine: ${cpus().length} CPUs, load average ${one!.toFixed(1)} (1 min) / ${five!.toFixed(1)} (5 min) at the end of the run.`;
}
