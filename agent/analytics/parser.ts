import type { AnalyticOver, Duration, Expr, JoinClause, Position, TimestampBy, QueryAst, SelectItem, SelectStatement, WindowSpec, WithStep } from './ast.js';
import { QueryError } from './diagnostics.js';
import { tokenize, type Token } from './lexer.js';

/**
 * Recursive descent over the token list, one method per grammar rule. The grammar is ASA's
 * (learn.microsoft.com/stream-analytics-query) cut down to the subset this agent evaluates;
 * constructs ASA has and we do not (JOIN, UNION, PARTITION BY, LIMIT DURATION, …) are reported
 * as unsupported rather than as typos.
 */
export function parseQuery(text: string, queryName: string): QueryAst {
  return new Parser(text, queryName).query();
}

const WINDOW_NAMES: Record<string, WindowSpec['kind']> = {
  TUMBLINGWINDOW: 'tumbling',
  TUMBLING: 'tumbling',
  HOPPINGWINDOW: 'hopping',
  HOPPING: 'hopping',
  SLIDINGWINDOW: 'sliding',
  SLIDING: 'sliding',
  SESSIONWINDOW: 'session',
  SESSION: 'session',
};

const UNSUPPORTED_AFTER_FROM = new Set(['RIGHT', 'OUTER', 'APPLY', 'PARTITION', 'LIMIT', 'MATCH_RECOGNIZE']);

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  /** The last SELECT item's alias when written without AS. */
  private implicitAlias: Token | null = null;

  constructor(
    private readonly text: string,
    private readonly queryName: string,
  ) {
    this.tokens = tokenize(text, queryName);
  }

  query(): QueryAst {
    const steps: WithStep[] = [];
    const selects: SelectStatement[] = [];
    if (this.acceptKeyword('WITH')) {
      do {
        const nameTok = this.expectIdent('a step name');
        this.expectKeyword('AS');
        this.expectOp('(');
        const select = this.selectUnion();
        this.expectOp(')');
        steps.push({ name: nameTok.text, select, pos: nameTok.pos });
      } while (this.acceptOp(','));
    }
    while (this.peek().kind !== 'eof') {
      if (this.acceptOp(';')) continue;
      const t = this.peek();
      if (t.kind === 'ident' && t.text.toUpperCase() === 'CREATE') {
        this.unsupported(t, `CREATE ${this.peekAt(1).text.toUpperCase()} (input schema declarations) is not supported; inputs take their fields from the events`);
      }
      if (!this.isKeyword('SELECT')) this.syntax(this.peek(), `expected SELECT but found ${describe(this.peek())}`);
      selects.push(this.selectUnion());
    }
    if (selects.length === 0) this.syntax(this.peek(), steps.length ? 'expected SELECT after the WITH steps' : 'expected SELECT');
    return { steps, selects };
  }

  private selectUnion(): SelectStatement {
    const first = this.select();
    while (this.isKeyword('UNION')) {
      const u = this.next();
      if (this.peek().kind === 'ident' && this.peek().text.toUpperCase() === 'ALL') this.next();
      const branch = this.select();
      if (branch.into) this.syntax(u, 'in a UNION, only the first SELECT may have INTO');
      first.union.push(branch);
    }
    return first;
  }

  private select(): SelectStatement {
    const start = this.expectKeyword('SELECT');
    if (this.isKeyword('DISTINCT')) this.unsupported(this.peek(), 'SELECT DISTINCT is not supported');
    if (this.peek().kind === 'ident' && this.peek().text.toUpperCase() === 'TOP') this.unsupported(this.peek(), 'SELECT TOP is not supported');
    const items: SelectItem[] = [];
    do items.push(this.selectItem());
    while (this.acceptOp(','));
    const lastAlias = this.implicitAlias;
    if (lastAlias && !this.isKeyword('FROM') && !this.isKeyword('INTO') && this.peek().kind === 'ident') {
      // `SELECT a FORM input`: the misspelt keyword was read as an alias; point at it, not past it.
      this.syntax(lastAlias, `expected FROM but found '${lastAlias.text}'`);
    }
    let into: string | null = null;
    if (this.acceptKeyword('INTO')) into = this.expectIdent('an output name').text;
    this.expectKeyword('FROM');
    const fromTok = this.expectIdent('an input or step name');
    const alias = this.sourceAlias();
    if (this.isOp(',')) this.unsupported(this.peek(), 'several inputs in FROM separated by commas are not supported (use JOIN … ON)');
    const stmt: SelectStatement = {
      items,
      into,
      from: { name: fromTok.text, alias, pos: fromTok.pos },
      timestampBy: null,
      join: null,
      apply: null,
      union: [],
      where: null,
      groupBy: null,
      having: null,
      pos: start.pos,
    };
    if (this.isKeyword('TIMESTAMP')) stmt.timestampBy = this.timestampBy();
    if (this.isKeyword('JOIN') || this.isKeyword('INNER') || this.isKeyword('LEFT')) stmt.join = this.join();
    if (this.isKeyword('CROSS')) stmt.apply = this.crossApply();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'keyword' && UNSUPPORTED_AFTER_FROM.has(t.text)) {
        this.unsupported(t, `${t.text}${t.text === 'PARTITION' ? ' BY' : ''} is not supported`);
      }
      if (this.isKeyword('TIMESTAMP')) {
        if (stmt.timestampBy) this.syntax(t, 'TIMESTAMP BY given twice');
        if (stmt.where || stmt.groupBy) this.syntax(t, 'TIMESTAMP BY must come before WHERE and GROUP BY');
        if (stmt.join) this.syntax(t, "with JOIN, each input's TIMESTAMP BY follows its own name");
        stmt.timestampBy = this.timestampBy();
      } else if (this.isKeyword('WHERE')) {
        if (stmt.where) this.syntax(t, 'WHERE given twice');
        if (stmt.groupBy) this.syntax(t, 'WHERE must come before GROUP BY');
        this.next();
        stmt.where = this.expr();
      } else if (this.isKeyword('GROUP')) {
        if (stmt.groupBy) this.syntax(t, 'GROUP BY given twice');
        this.next();
        this.expectKeyword('BY');
        stmt.groupBy = this.groupBy(t.pos);
      } else if (this.isKeyword('HAVING')) {
        if (stmt.having) this.syntax(t, 'HAVING given twice');
        this.next();
        stmt.having = this.expr();
      } else {
        break;
      }
    }
    return stmt;
  }

  private sourceAlias(): string | null {
    if (this.acceptKeyword('AS')) return this.expectIdent('an alias').text;
    if (this.peek().kind === 'ident') return this.next().text;
    return null;
  }

  private timestampBy(): TimestampBy {
    const t = this.expectKeyword('TIMESTAMP');
    this.expectKeyword('BY');
    const expr = this.expr();
    const over: Expr[] = [];
    if (this.acceptKeyword('OVER')) {
      do over.push(this.expr());
      while (this.acceptOp(','));
    }
    return { expr, over, pos: t.pos };
  }

  private crossApply(): NonNullable<SelectStatement['apply']> {
    const t = this.expectKeyword('CROSS');
    this.expectKeyword('APPLY');
    const fnTok = this.expectIdent('GetArrayElements or GetRecordProperties');
    const fn = fnTok.text.toUpperCase();
    if (fn !== 'GETARRAYELEMENTS' && fn !== 'GETRECORDPROPERTIES') this.unsupported(fnTok, `CROSS APPLY ${fnTok.text}() (ASA applies GetArrayElements and GetRecordProperties)`);
    this.expectOp('(');
    const arg = this.expr();
    this.expectOp(')');
    this.acceptKeyword('AS');
    const alias = this.expectIdent('an alias for the elements').text;
    if (this.isKeyword('CROSS')) this.unsupported(this.peek(), 'more than one CROSS APPLY');
    return { fn: fn as 'GETARRAYELEMENTS', arg, alias, pos: t.pos };
  }

  private join(): JoinClause {
    const t = this.peek();
    let kind: JoinClause['kind'] = 'inner';
    if (this.acceptKeyword('LEFT')) {
      kind = 'left';
      this.acceptKeyword('OUTER');
    } else {
      this.acceptKeyword('INNER');
    }
    this.expectKeyword('JOIN');
    const nameTok = this.expectIdent('an input or step name');
    const alias = this.sourceAlias();
    const rightTimestampBy = this.isKeyword('TIMESTAMP') ? this.timestampBy() : null;
    this.expectKeyword('ON');
    const on = this.expr();
    const next = this.peek();
    if (this.isKeyword('JOIN') || this.isKeyword('INNER') || this.isKeyword('LEFT')) this.unsupported(next, 'a JOIN of more than two inputs is not supported');
    return { kind, right: { name: nameTok.text, alias, pos: nameTok.pos }, rightTimestampBy, on, pos: t.pos };
  }

  private selectItem(): SelectItem {
    const t = this.peek();
    if (this.isOp('*')) {
      this.next();
      return { expr: { kind: 'star', pos: t.pos }, alias: null, pos: t.pos };
    }
    this.implicitAlias = null;
    if (t.kind === 'ident' && this.peekAt(1).kind === 'op' && this.peekAt(1).text === '=') {
      // T-SQL's `alias = expression`, which ASA's documentation uses (`growth = reading - LAG(…) OVER (…)`).
      this.next();
      this.next();
      return { expr: this.expr(), alias: t.text, pos: t.pos };
    }
    const expr = this.expr();
    let alias: string | null = null;
    if (this.acceptKeyword('AS')) alias = this.expectIdent('an alias').text;
    else if (this.peek().kind === 'ident') {
      this.implicitAlias = this.next();
      alias = this.implicitAlias.text;
    }
    return { expr, alias, pos: t.pos };
  }

  private groupBy(pos: Position): NonNullable<SelectStatement['groupBy']> {
    const keys: Expr[] = [];
    let window: WindowSpec | null = null;
    let windows: Array<{ id: string | null; spec: WindowSpec }> = [];
    do {
      const t = this.peek();
      if (t.kind === 'ident' && t.text.toUpperCase() === 'WINDOWS' && this.peekAt(1).text === '(') {
        if (window) this.syntax(t, 'only one window (or one Windows(…)) is allowed in GROUP BY');
        windows = this.windowsList();
        window = windows[0]!.spec;
        continue;
      }
      const w = this.tryWindow();
      if (w) {
        if (window) this.syntax(t, 'only one window is allowed in GROUP BY; several go in Windows(…)');
        window = w;
        windows = [{ id: null, spec: w }];
      } else {
        keys.push(this.expr());
      }
    } while (this.acceptOp(','));
    return { keys, window, windows, pos };
  }

  /** `Windows(Window('id', TumblingWindow(…)), HoppingWindow(…), …)`. */
  private windowsList(): Array<{ id: string | null; spec: WindowSpec }> {
    this.next();
    this.expectOp('(');
    const out: Array<{ id: string | null; spec: WindowSpec }> = [];
    do {
      const t = this.peek();
      let id: string | null = null;
      let spec: WindowSpec | null;
      if (t.kind === 'ident' && t.text.toUpperCase() === 'WINDOW' && this.peekAt(1).text === '(') {
        this.next();
        this.expectOp('(');
        const idTok = this.next();
        if (idTok.kind !== 'string') this.syntax(idTok, `expected a window id in quotes but found ${describe(idTok)}`);
        id = idTok.text;
        this.expectOp(',');
        spec = this.tryWindow();
        if (!spec) this.syntax(this.peek(), `expected a window (TumblingWindow, HoppingWindow, SlidingWindow, SessionWindow) but found ${describe(this.peek())}`);
        this.expectOp(')');
      } else {
        spec = this.tryWindow();
        if (!spec) this.syntax(t, `expected Window('id', …) or a window but found ${describe(t)}`);
      }
      if (id !== null && out.some((w) => w.id === id)) this.syntax(t, `window id '${id}' is used twice`);
      out.push({ id, spec: spec! });
    } while (this.acceptOp(','));
    this.expectOp(')');
    return out;
  }

  private tryWindow(): WindowSpec | null {
    const t = this.peek();
    if (t.kind !== 'ident') return null;
    const upper = t.text.toUpperCase();
    if (upper === 'SYSTEM' && this.peekAt(1).text === '.' && this.peekAt(2).text.toUpperCase() === 'TIMESTAMP') {
      // GROUP BY System.Timestamp() is a snapshot window.
      this.next();
      this.next();
      this.next();
      if (this.acceptOp('(')) this.expectOp(')');
      return { kind: 'snapshot', pos: t.pos };
    }
    if (this.peekAt(1).text !== '(') return null;
    const kind = WINDOW_NAMES[upper];
    if (!kind) return null;
    this.next();
    this.expectOp('(');
    let spec: WindowSpec;
    if (kind === 'tumbling') {
      const [size, offset] = this.durations(t, ['DURATION'], ['OFFSET']);
      spec = { kind, size: size!, offset: offset ?? null, pos: t.pos };
    } else if (kind === 'hopping') {
      const [size, hop, offset] = this.durations(t, ['DURATION', 'HOP'], ['OFFSET']);
      spec = { kind, size: size!, hop: hop!, offset: offset ?? null, pos: t.pos };
    } else if (kind === 'sliding') {
      const [size] = this.durations(t, ['DURATION'], []);
      spec = { kind, size: size!, pos: t.pos };
    } else {
      const [timeout, maxDuration] = this.durations(t, ['TIMEOUT'], ['MAXDURATION']);
      spec = { kind: 'session', timeout: timeout!, maxDuration: maxDuration ?? null, partitionBy: [], pos: t.pos };
    }
    this.expectOp(')');
    if (this.isKeyword('OVER')) {
      const over = this.next();
      if (spec.kind !== 'session') this.unsupported(over, `OVER on a ${spec.kind} window is not supported`);
      this.expectOp('(');
      this.expectKeyword('PARTITION');
      this.expectKeyword('BY');
      const keys: Expr[] = [];
      do keys.push(this.expr());
      while (this.acceptOp(','));
      this.expectOp(')');
      (spec as Extract<WindowSpec, { kind: 'session' }>).partitionBy = keys;
    }
    return spec;
  }

  /**
   * Window arguments in either ASA form: the short `(unit, a, b[, c])`, where every size shares
   * the unit, or named `Duration(unit, n)`, `Hop(unit, n)`, `Offset(unit, n)`, ….
   */
  private durations(windowTok: Token, required: string[], optional: string[]): Array<Duration | undefined> {
    const names = [...required, ...optional];
    const first = this.peek();
    if (first.kind === 'ident' && this.peekAt(1).text === '(' && names.includes(first.text.toUpperCase())) {
      const out: Array<Duration | undefined> = [];
      let idx = 0;
      do {
        const nameTok = this.expectIdent(`${names[idx] ?? 'no further'} (…)`);
        const name = nameTok.text.toUpperCase();
        const want = names.indexOf(name);
        if (want < idx) this.syntax(nameTok, `expected ${names.slice(idx).join(' or ') || ')'} but found ${nameTok.text}`);
        idx = want + 1;
        this.expectOp('(');
        const unitTok = this.expectIdent('a time unit');
        this.expectOp(',');
        const sizePos = this.peek().pos;
        const size = this.integer(name === 'OFFSET');
        this.expectOp(')');
        out[want] = { unit: unitTok.text, size, pos: unitTok.pos, sizePos };
      } while (this.acceptOp(','));
      for (let k = 0; k < required.length; k++) {
        if (!out[k]) this.syntax(windowTok, `${windowTok.text} needs ${required[k]![0]}${required[k]!.slice(1).toLowerCase()}(…)`);
      }
      return out;
    }
    const unitTok = this.expectIdent('a time unit');
    const out: Array<Duration | undefined> = [];
    for (let k = 0; k < names.length; k++) {
      if (k >= required.length && !this.isOp(',')) break;
      this.expectOp(',');
      const sizePos = this.peek().pos;
      out.push({ unit: unitTok.text, size: this.integer(names[k] === 'OFFSET'), pos: unitTok.pos, sizePos });
    }
    return out;
  }

  /** A whole number; only an offset may be negative (ASA's Offset(millisecond, -1) makes windows [start, end)). */
  private integer(allowNegative = false): number {
    const t = this.peek();
    let sign = 1;
    if (this.isOp('-')) {
      this.next();
      sign = -1;
    }
    const n = this.next();
    if (n.kind !== 'number' || !Number.isInteger(n.value)) this.syntax(n, `expected a whole number but found ${describe(n)}`);
    const v = sign * n.value!;
    if (v < 0 && !allowNegative) this.syntax(t, 'a window size cannot be negative');
    return v;
  }

  // ---- expressions, lowest precedence first ----

  private expr(): Expr {
    return this.or();
  }

  private or(): Expr {
    let left = this.and();
    while (this.isKeyword('OR')) {
      const t = this.next();
      left = { kind: 'binary', op: 'OR', left, right: this.and(), pos: t.pos };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isKeyword('AND')) {
      const t = this.next();
      left = { kind: 'binary', op: 'AND', left, right: this.not(), pos: t.pos };
    }
    return left;
  }

  private not(): Expr {
    if (this.isKeyword('NOT')) {
      const t = this.next();
      return { kind: 'unary', op: 'NOT', operand: this.not(), pos: t.pos };
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const left = this.additive();
    const t = this.peek();
    if (t.kind === 'op' && ['=', '<>', '<', '<=', '>', '>='].includes(t.text)) {
      this.next();
      return { kind: 'binary', op: t.text as '=', left, right: this.additive(), pos: t.pos };
    }
    if (this.isKeyword('IS')) {
      this.next();
      const negated = this.acceptKeyword('NOT');
      this.expectKeyword('NULL');
      return { kind: 'isNull', operand: left, negated, pos: t.pos };
    }
    let negated = false;
    if (this.isKeyword('NOT') && ['BETWEEN', 'IN', 'LIKE'].includes(this.peekAt(1).text)) {
      this.next();
      negated = true;
    }
    if (this.acceptKeyword('LIKE')) {
      const like: Expr = { kind: 'call', name: '.LIKE', args: [left, this.additive()], distinct: false, pos: t.pos };
      return negated ? { kind: 'unary', op: 'NOT', operand: like, pos: t.pos } : like;
    }
    if (this.acceptKeyword('BETWEEN')) {
      const low = this.additive();
      this.expectKeyword('AND');
      return { kind: 'between', operand: left, low, high: this.additive(), negated, pos: t.pos };
    }
    if (this.acceptKeyword('IN')) {
      this.expectOp('(');
      const list: Expr[] = [];
      do list.push(this.expr());
      while (this.acceptOp(','));
      this.expectOp(')');
      return { kind: 'in', operand: left, list, negated, pos: t.pos };
    }
    return left;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || (t.text !== '+' && t.text !== '-' && t.text !== '||')) return left;
      this.next();
      left = { kind: 'binary', op: t.text === '-' ? '-' : '+', left, right: this.multiplicative(), pos: t.pos };
    }
  }

  private multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || (t.text !== '*' && t.text !== '/' && t.text !== '%')) return left;
      this.next();
      left = { kind: 'binary', op: t.text, left, right: this.unary(), pos: t.pos };
    }
  }

  private unary(): Expr {
    const t = this.peek();
    if (this.isOp('-') || this.isOp('+')) {
      this.next();
      const operand = this.unary();
      if (t.text === '-' && operand.kind === 'literal' && typeof operand.value === 'number') {
        return { kind: 'literal', value: -operand.value, pos: t.pos };
      }
      return { kind: 'unary', op: t.text as '-', operand, pos: t.pos };
    }
    return this.postfix();
  }

  private postfix(): Expr {
    let e = this.primary();
    // Field access on a computed record, e.g. TopOne() OVER (…).field or (expr).field.
    while (this.isOp('.') && e.kind !== 'column') {
      this.next();
      const name = this.fieldName();
      e = { kind: 'call', name: '.FIELD', args: [e, { kind: 'literal', value: name.text, pos: name.pos }], distinct: false, pos: name.pos };
    }
    return e;
  }

  private primary(): Expr {
    const t = this.peek();
    if (t.kind === 'number') {
      this.next();
      return { kind: 'literal', value: t.value!, pos: t.pos };
    }
    if (t.kind === 'string') {
      this.next();
      return { kind: 'literal', value: t.text, pos: t.pos };
    }
    if (t.kind === 'keyword') {
      switch (t.text) {
        case 'NULL':
          this.next();
          return { kind: 'literal', value: null, pos: t.pos };
        case 'TRUE':
        case 'FALSE':
          this.next();
          return { kind: 'literal', value: t.text === 'TRUE', pos: t.pos };
        case 'CASE':
          return this.caseExpr();
        case 'CAST':
        case 'TRY_CAST':
          return this.castExpr();
        case 'SELECT':
          this.unsupported(t, 'subqueries are not supported');
      }
      this.syntax(t, `expected an expression but found ${describe(t)}`);
    }
    if (this.acceptOp('(')) {
      if (this.isKeyword('SELECT')) this.unsupported(this.peek(), 'subqueries are not supported');
      const e = this.expr();
      this.expectOp(')');
      return e;
    }
    if (t.kind === 'ident') return this.identifierExpr();
    this.syntax(t, `expected an expression but found ${describe(t)}`);
  }

  private identifierExpr(): Expr {
    const t = this.next();
    const upper = t.text.toUpperCase();
    if (upper === 'SYSTEM' && this.isOp('.') && this.peekAt(1).text.toUpperCase() === 'WINDOW' && this.peekAt(2).text === '(') {
      // System.Window().Id: which of the GROUP BY's Windows(…) a row belongs to.
      this.next();
      this.next();
      this.expectOp('(');
      this.expectOp(')');
      this.expectOp('.');
      const f = this.expectIdent('Id');
      if (f.text.toUpperCase() !== 'ID') this.unsupported(f, `System.Window().${f.text} (only .Id)`);
      return { kind: 'call', name: '.WINDOWID', args: [], distinct: false, pos: t.pos };
    }
    if (upper === 'SYSTEM' && this.isOp('.') && this.peekAt(1).text.toUpperCase() === 'TIMESTAMP') {
      this.next();
      this.next();
      if (this.acceptOp('(')) this.expectOp(')');
      return { kind: 'timestamp', pos: t.pos };
    }
    if ((upper === 'UDF' || upper === 'UDA') && this.isOp('.') && this.peekAt(1).kind === 'ident' && this.peekAt(2).text === '(') {
      this.unsupported(t, `user-defined ${upper === 'UDF' ? 'function' : 'aggregate'} ${t.text}.${this.peekAt(1).text}() (JavaScript/C# code runs in ASA's cloud service only)`);
    }
    if (this.isOp('(')) return this.call(t, upper);
    const path = [t.text];
    while (this.isOp('.')) {
      this.next();
      path.push(this.fieldName().text);
    }
    return { kind: 'column', path, pos: t.pos };
  }

  private call(nameTok: Token, upper: string): Expr {
    this.expectOp('(');
    if (upper === 'DATEADD' || upper === 'DATEDIFF' || upper === 'DATEPART') {
      const part = this.expectIdent('a date part (year, month, day, hour, …)');
      const args: Expr[] = [];
      while (this.acceptOp(',')) args.push(this.expr());
      this.expectOp(')');
      const want = upper === 'DATEPART' ? 1 : 2;
      if (args.length !== want) this.syntax(nameTok, `${upper} takes a date part and ${want} argument${want > 1 ? 's' : ''}`);
      return { kind: 'datepart', fn: upper, part: part.text, args, pos: nameTok.pos };
    }
    if (upper === 'TOPONE') {
      // TopOne([projection]) OVER ([PARTITION BY …] ORDER BY … [LIMIT DURATION(…)] [WHEN …]): an
      // aggregate of a window without PARTITION BY / LIMIT DURATION / WHEN, an analytic function with them.
      const arg = this.isOp(')') ? null : this.expr();
      this.expectOp(')');
      const overTok = this.expectKeyword('OVER');
      this.expectOp('(');
      const partitionBy: Expr[] = [];
      if (this.acceptKeyword('PARTITION')) {
        this.expectKeyword('BY');
        do partitionBy.push(this.expr());
        while (this.acceptOp(','));
      }
      this.expectKeyword('ORDER');
      this.expectKeyword('BY');
      const orderBy: Array<{ expr: Expr; desc: boolean }> = [];
      do {
        const expr = this.expr();
        let desc = false;
        if (this.acceptKeyword('DESC')) desc = true;
        else this.acceptKeyword('ASC');
        orderBy.push({ expr, desc });
      } while (this.acceptOp(','));
      const rest = this.acceptOp(')') ? null : this.analyticClauses(overTok);
      if (partitionBy.length === 0 && rest === null) return { kind: 'topOne', orderBy, arg, pos: nameTok.pos };
      if (!rest || rest.limit === null) this.syntax(this.peek(), 'TopOne() with PARTITION BY or WHEN needs LIMIT DURATION(unit, n)');
      return { kind: 'analytic', fn: 'TOPONE', args: arg ? [arg] : [], over: { ...rest!, partitionBy, orderBy }, pos: nameTok.pos };
    }
    const args: Expr[] = [];
    let distinct = false;
    if (!this.isOp(')')) {
      if (this.acceptKeyword('DISTINCT')) distinct = true;
      do {
        const a = this.peek();
        if (this.isOp('*')) {
          this.next();
          args.push({ kind: 'star', pos: a.pos });
        } else {
          args.push(this.expr());
        }
      } while (this.acceptOp(','));
    }
    this.expectOp(')');
    if (upper === 'LAG' || upper === 'LAST' || upper === 'ISFIRST' || upper === 'ANOMALYDETECTION_SPIKEANDDIP' || upper === 'ANOMALYDETECTION_CHANGEPOINT') {
      let over: AnalyticOver = { partitionBy: [], limit: null, when: null, pos: nameTok.pos };
      if (this.isKeyword('OVER')) over = this.analyticOver();
      else if (upper !== 'ISFIRST') this.syntax(this.peek(), `${upper === 'LAG' || upper === 'LAST' ? upper : nameTok.text} needs OVER ([PARTITION BY …] LIMIT DURATION(unit, n) [WHEN …])`);
      if (upper !== 'ISFIRST' && over.limit === null) this.syntax(this.peek(), `${nameTok.text} needs LIMIT DURATION(unit, n) in its OVER clause`);
      if (upper === 'ISFIRST' && over.limit !== null) this.syntax({ kind: 'keyword', text: 'OVER', pos: over.pos }, 'ISFIRST takes its interval as arguments, not LIMIT DURATION');
      return { kind: 'analytic', fn: upper, args, over, pos: nameTok.pos };
    }
    if (this.isKeyword('OVER')) {
      // ASA's aggregates over the recent history of each event: SUM, AVG, MIN, MAX … OVER (… LIMIT DURATION …).
      if ((upper === 'SUM' || upper === 'AVG' || upper === 'MIN' || upper === 'MAX') && !distinct) {
        const over = this.analyticOver();
        if (over.limit === null) this.syntax(this.peek(), `${upper}() OVER needs LIMIT DURATION(unit, n)`);
        return { kind: 'analytic', fn: upper, args, over, pos: nameTok.pos };
      }
      this.unsupported(this.peek(), `${nameTok.text}() OVER (…) is not supported (with OVER: LAG, LAST, ISFIRST, SUM, AVG, MIN, MAX, AnomalyDetection_*)`);
    }
    return { kind: 'call', name: upper, args, distinct, pos: nameTok.pos };
  }

  /** The clauses in any order, as both ASA's current and its older documentation write them. */
  private analyticOver(): AnalyticOver {
    const overTok = this.expectKeyword('OVER');
    this.expectOp('(');
    return this.analyticClauses(overTok);
  }

  /** From after `OVER (` (and, for TopOne, its ORDER BY) to the closing parenthesis. */
  private analyticClauses(overTok: Token): AnalyticOver {
    const over: AnalyticOver = { partitionBy: [], limit: null, when: null, pos: overTok.pos };
    while (!this.isOp(')')) {
      const t = this.peek();
      if (this.acceptKeyword('PARTITION')) {
        if (over.partitionBy.length) this.syntax(t, 'PARTITION BY given twice');
        this.expectKeyword('BY');
        do over.partitionBy.push(this.expr());
        while (this.acceptOp(','));
      } else if (this.acceptKeyword('LIMIT')) {
        if (over.limit) this.syntax(t, 'LIMIT DURATION given twice');
        const d = this.expectIdent('DURATION');
        if (d.text.toUpperCase() !== 'DURATION') this.syntax(d, `expected DURATION but found '${d.text}'`);
        this.expectOp('(');
        const unitTok = this.expectIdent('a time unit');
        this.expectOp(',');
        const sizePos = this.peek().pos;
        const size = this.integer();
        this.expectOp(')');
        over.limit = { unit: unitTok.text, size, pos: unitTok.pos, sizePos };
      } else if (this.acceptKeyword('WHEN')) {
        if (over.when) this.syntax(t, 'WHEN given twice');
        over.when = this.expr();
      } else {
        this.syntax(t, `expected PARTITION BY, LIMIT DURATION, WHEN or ')' but found ${describe(t)}`);
      }
    }
    this.expectOp(')');
    return over;
  }

  private caseExpr(): Expr {
    const t = this.next();
    let operand: Expr | null = null;
    if (!this.isKeyword('WHEN')) operand = this.expr();
    const whens: Array<{ when: Expr; then: Expr }> = [];
    while (this.acceptKeyword('WHEN')) {
      const when = this.expr();
      this.expectKeyword('THEN');
      whens.push({ when, then: this.expr() });
    }
    if (whens.length === 0) this.syntax(this.peek(), `expected WHEN but found ${describe(this.peek())}`);
    let otherwise: Expr | null = null;
    if (this.acceptKeyword('ELSE')) otherwise = this.expr();
    this.expectKeyword('END');
    return { kind: 'case', operand, whens, otherwise, pos: t.pos };
  }

  private castExpr(): Expr {
    const t = this.next();
    this.expectOp('(');
    const operand = this.expr();
    this.expectKeyword('AS');
    const typeTok = this.expectIdent('a type (bigint, float, nvarchar(max), datetime, bit, record, array)');
    let type = typeTok.text.toLowerCase();
    if (this.acceptOp('(')) {
      const arg = this.next();
      if (arg.text.toUpperCase() !== 'MAX' && arg.kind !== 'number') this.syntax(arg, `expected MAX or a length but found ${describe(arg)}`);
      this.expectOp(')');
      type += '(max)';
    }
    this.expectOp(')');
    return { kind: 'cast', operand, type, orNull: t.text === 'TRY_CAST', pos: t.pos };
  }

  // ---- token helpers ----

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private peekAt(k: number): Token {
    return this.tokens[Math.min(this.i + k, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.tokens[this.i]!;
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === 'keyword' && t.text === word;
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === op;
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.next();
    return true;
  }

  private acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.next();
    return true;
  }

  private expectKeyword(word: string): Token {
    if (!this.isKeyword(word)) this.syntax(this.peek(), `expected ${word} but found ${describe(this.peek())}`);
    return this.next();
  }

  private expectOp(op: string): Token {
    if (!this.isOp(op)) this.syntax(this.peek(), `expected '${op}' but found ${describe(this.peek())}`);
    return this.next();
  }

  /** After a dot only a field name can come, so a reserved word there is a field (`t.limit`), spelt as written. */
  private fieldName(): Token {
    const t = this.peek();
    if (t.kind === 'keyword') {
      this.next();
      return { kind: 'ident', text: this.text.slice(t.pos.offset, t.pos.offset + t.text.length), pos: t.pos };
    }
    return this.expectIdent('a field name');
  }

  private expectIdent(what: string): Token {
    const t = this.peek();
    if (t.kind !== 'ident') this.syntax(t, `expected ${what} but found ${describe(t)}`);
    return this.next();
  }

  private syntax(t: Token, reason: string): never {
    throw new QueryError('EDGE_QUERY_SYNTAX', this.queryName, this.text, t.pos, reason);
  }

  private unsupported(t: Token, reason: string): never {
    throw new QueryError('EDGE_QUERY_UNSUPPORTED', this.queryName, this.text, t.pos, `unsupported: ${reason}`);
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the query';
    case 'string':
      return `'${t.text}'`;
    case 'keyword':
      return t.text;
    default:
      return `'${t.text}'`;
  }
}
