// Each package's README is its chapter's study guide: the landing page lists them and serves
// them as HTML at /guides/<pkg>/ (other Markdown files beside it at /guides/<pkg>/<FILE>.md, so
// a README's relative links work). markdown-it with `html: false` escapes any HTML in the
// source and refuses javascript:/vbscript:/file: links; the page around it escapes every name.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import MarkdownIt from 'markdown-it';
import { repoRoot } from './lab-paths.js';

export interface Guide {
  /** The package folder under packages/, also the URL segment. */
  pkg: string;
  /** The README's first heading. */
  title: string;
}

/** Package folders and Markdown file names a URL may name; anything else is a 404. */
const PKG_NAME = /^[a-z0-9][a-z0-9-]*$/;
const MARKDOWN_FILE = /^[A-Za-z0-9][A-Za-z0-9_-]*\.md$/;

const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function packagesDir(): string {
  return join(repoRoot(), 'packages');
}

function firstHeading(text: string): string | undefined {
  return /^#\s+(.+)$/m.exec(text)?.[1]?.trim();
}

/** Every package with a README.md, in folder order. */
export function listGuides(root = packagesDir()): Guide[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && PKG_NAME.test(d.name) && existsSync(join(root, d.name, 'README.md')))
    .map((d) => {
      const text = readFileSync(join(root, d.name, 'README.md'), 'utf8');
      return { pkg: d.name, title: firstHeading(text) ?? d.name };
    })
    .sort((a, b) => a.pkg.localeCompare(b.pkg));
}

/** The Markdown source of packages/<pkg>/<file>, or undefined when the names are not allowed or absent. */
export function guideSource(pkg: string, file = 'README.md', root = packagesDir()): string | undefined {
  if (!PKG_NAME.test(pkg) || !MARKDOWN_FILE.test(file)) return undefined;
  const path = join(root, pkg, file);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** Markdown to an HTML page: the body rendered by markdown-it, raw HTML in the source shown as text. */
export function guidePage(pkg: string, file: string, source: string): string {
  const title = firstHeading(source) ?? `${pkg}/${file}`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)} — DDIA Lab</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}code{background:#f4f4f4;padding:0 .2rem}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem}nav{color:#666}</style></head>
<body><nav><a href="/">DDIA Lab</a> › <a href="/guides/">study guides</a> › packages/${escapeHtml(pkg)}/${escapeHtml(file)}</nav>
<main>${markdown.render(source)}</main></body></html>`;
}

export function guidesIndexPage(guides: Guide[]): string {
  const items = guides
    .map(
      (g) =>
        `<li><a href="/guides/${escapeHtml(g.pkg)}/">${escapeHtml(g.title)}</a> <small>(packages/${escapeHtml(g.pkg)})</small></li>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Study guides — DDIA Lab</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}small{color:#666}</style></head>
<body><nav><a href="/">DDIA Lab</a></nav><h1>Study guides</h1><p>Each package's README: the idea, how to run it, experiments, the book's sections mapped to files.</p>
<ul>${items}</ul></body></html>`;
}
