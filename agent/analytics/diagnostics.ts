import { EdgeError } from '../core/errors.js';
import type { Position } from './ast.js';

export type QueryErrorCode = 'EDGE_QUERY_SYNTAX' | 'EDGE_QUERY_UNSUPPORTED' | 'EDGE_QUERY_RESERVED_NAME';

/** Output columns may not take these names: replay's JSON lines carry them beside the row's columns. */
export const ENVELOPE_FIELDS = ['output', 'rev'] as const;

/**
 * A query error a person can fix without a manual: where (line:column), the line itself and a
 * caret. Syntax errors exit the replay command with 2; unsupported constructs are named as such
 * so nobody hunts for a typo in a query ASA would accept.
 */
export class QueryError extends EdgeError {
  readonly line: number;
  readonly column: number;
  readonly queryName: string;

  constructor(
    code: QueryErrorCode,
    queryName: string,
    text: string,
    pos: Position,
    reason: string,
  ) {
    super(code, renderQueryError(queryName, text, pos, reason));
    this.name = 'QueryError';
    this.line = pos.line;
    this.column = pos.column;
    this.queryName = queryName;
  }
}

export function renderQueryError(queryName: string, text: string, pos: Position, reason: string): string {
  const lineText = (text.split(/\r?\n/)[pos.line - 1] ?? '').replace(/\t/g, ' ');
  return `${queryName}:${pos.line}:${pos.column}: ${reason}\n  ${lineText}\n  ${' '.repeat(Math.max(0, pos.column - 1))}^`;
}

/** Positions from offsets, computed once per query text. */
export function positionAt(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}
