import type { Position } from './ast.js';
import { QueryError, positionAt } from './diagnostics.js';

export type TokenKind = 'ident' | 'keyword' | 'number' | 'string' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Keywords are upper-cased; identifiers keep their spelling; bracketed identifiers lose the brackets. */
  text: string;
  /** A number token's value. */
  value?: number;
  pos: Position;
}

/**
 * Reserved words only: function names and window names stay identifiers so a field called
 * `hop` or `duration` still works, as it does in ASA.
 */
const KEYWORDS = new Set([
  'SELECT', 'FROM', 'WHERE', 'GROUP', 'BY', 'HAVING', 'INTO', 'AS', 'WITH', 'TIMESTAMP', 'OVER', 'AND', 'OR', 'NOT',
  'IS', 'NULL', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'CAST', 'TRY_CAST', 'DISTINCT', 'PARTITION', 'ORDER', 'ASC',
  'DESC', 'BETWEEN', 'IN', 'TRUE', 'FALSE', 'JOIN', 'UNION', 'ON', 'LIMIT', 'LIKE', 'INNER', 'LEFT', 'RIGHT', 'OUTER',
  'CROSS', 'APPLY', 'MATCH_RECOGNIZE',
]);

const TWO_CHAR_OPS = new Set(['<=', '>=', '<>', '!=', '||']);
const ONE_CHAR_OPS = '+-*/%=<>(),.;:[]';

export function tokenize(text: string, queryName: string): Token[] {
  const tokens: Token[] = [];
  const fail = (offset: number, reason: string): never => {
    throw new QueryError('EDGE_QUERY_SYNTAX', queryName, text, positionAt(text, offset), reason);
  };
  // Positions are derived incrementally: recomputing from the start for every token is quadratic.
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const n = text.length;
  const at = (offset: number): Position => ({ offset, line, column: offset - lineStart + 1 });
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    const ch = text[i]!;
    if (ch === '-' && text[i + 1] === '-') {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    if (ch === '/' && text[i + 1] === '*') {
      const start = i;
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail(start, 'unterminated /* comment');
      for (let j = i; j < end; j++) {
        if (text.charCodeAt(j) === 10) {
          line++;
          lineStart = j + 1;
        }
      }
      i = end + 2;
      continue;
    }
    const pos = at(i);
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(text.charCodeAt(j))) j++;
      const word = text.slice(i, j);
      const upper = word.toUpperCase();
      tokens.push(KEYWORDS.has(upper) ? { kind: 'keyword', text: upper, pos } : { kind: 'ident', text: word, pos });
      i = j;
      continue;
    }
    if (ch === '[') {
      const end = text.indexOf(']', i + 1);
      if (end < 0 || text.slice(i + 1, end).includes('\n')) fail(i, 'unterminated [identifier]');
      tokens.push({ kind: 'ident', text: text.slice(i + 1, end), pos });
      i = end + 1;
      continue;
    }
    if (ch === '"') {
      // ASA accepts double-quoted identifiers as well as brackets.
      const end = text.indexOf('"', i + 1);
      if (end < 0) fail(i, 'unterminated "identifier"');
      tokens.push({ kind: 'ident', text: text.slice(i + 1, end), pos });
      i = end + 1;
      continue;
    }
    if (isDigit(c) || (ch === '.' && isDigit(text.charCodeAt(i + 1)))) {
      let j = i;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      if (text[j] === '.') {
        j++;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
      }
      if (text[j] === 'e' || text[j] === 'E') {
        let k = j + 1;
        if (text[k] === '+' || text[k] === '-') k++;
        if (isDigit(text.charCodeAt(k))) {
          j = k;
          while (j < n && isDigit(text.charCodeAt(j))) j++;
        }
      }
      if (j < n && isIdentStart(text.charCodeAt(j))) fail(j, `unexpected '${text[j]}' after number`);
      tokens.push({ kind: 'number', text: text.slice(i, j), value: Number(text.slice(i, j)), pos });
      i = j;
      continue;
    }
    if (ch === "'") {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= n) fail(i, 'unterminated string literal');
        const d = text[j]!;
        if (d === "'") {
          if (text[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        if (d === '\n') {
          line++;
          lineStart = j + 1;
        }
        s += d;
        j++;
      }
      tokens.push({ kind: 'string', text: s, pos });
      i = j + 1;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) {
      tokens.push({ kind: 'op', text: two === '!=' ? '<>' : two, pos });
      i += 2;
      continue;
    }
    if (ONE_CHAR_OPS.includes(ch)) {
      tokens.push({ kind: 'op', text: ch, pos });
      i++;
      continue;
    }
    fail(i, `unexpected character '${ch}'`);
  }
  tokens.push({ kind: 'eof', text: '', pos: at(n) });
  return tokens;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 64 || c > 127;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}
