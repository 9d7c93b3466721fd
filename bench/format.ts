/** 74412 -> `74.4k`; below 1000 a whole number. */
export function kilo(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value.toFixed(0);
}

/** 0.412 -> `41%`. */
export function percent(share: number): string {
  return `${(100 * share).toFixed(0)}%`;
}

/** 2.2 -> `2.20x`. */
export function multiple(ratio: number): string {
  return `${ratio.toFixed(2)}x`;
}

/** A markdown table, columns padded so it reads as well on a terminal as rendered. */
export function markdownTable(header: string[], rows: string[][], align: ('left' | 'right')[]): string {
  const widths = header.map((title, i) => Math.max(3, title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (align[i] === 'right' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (align[i] === 'right' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
