/**
 * The syntax tree of the ASA subset we accept. Every node keeps the offset where it starts so
 * that planning errors (a column outside GROUP BY, an unknown function) can point at the text.
 */
export interface Position {
  offset: number;
  line: number;
  column: number;
}

export type Expr =
  | { kind: 'literal'; value: number | string | boolean | null; pos: Position }
  | { kind: 'column'; path: string[]; pos: Position }
  | { kind: 'star'; pos: Position }
  | { kind: 'unary'; op: '-' | '+' | 'NOT'; operand: Expr; pos: Position }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; pos: Position }
  | { kind: 'isNull'; operand: Expr; negated: boolean; pos: Position }
  | { kind: 'between'; operand: Expr; low: Expr; high: Expr; negated: boolean; pos: Position }
  | { kind: 'in'; operand: Expr; list: Expr[]; negated: boolean; pos: Position }
  | { kind: 'case'; operand: Expr | null; whens: Array<{ when: Expr; then: Expr }>; otherwise: Expr | null; pos: Position }
  | { kind: 'cast'; operand: Expr; type: string; orNull: boolean; pos: Position }
  | { kind: 'datepart'; fn: 'DATEADD' | 'DATEDIFF' | 'DATEPART'; part: string; args: Expr[]; pos: Position }
  | { kind: 'timestamp'; pos: Position }
  | { kind: 'call'; name: string; args: Expr[]; distinct: boolean; pos: Position }
  | { kind: 'topOne'; orderBy: Array<{ expr: Expr; desc: boolean }>; arg: Expr | null; pos: Position }
  | { kind: 'analytic'; fn: AnalyticName; args: Expr[]; over: AnalyticOver; pos: Position };

/** ASA's analytic functions: evaluated per event over the statement's input, before WHERE. */
export type AnalyticName = 'LAG' | 'LAST' | 'ISFIRST' | 'ANOMALYDETECTION_SPIKEANDDIP' | 'ANOMALYDETECTION_CHANGEPOINT' | 'SUM' | 'AVG' | 'MIN' | 'MAX' | 'TOPONE';

/** `OVER ([PARTITION BY …] [LIMIT DURATION(unit, n)] [WHEN cond])`. */
export interface AnalyticOver {
  partitionBy: Expr[];
  limit: Duration | null;
  when: Expr | null;
  /** TopOne's ORDER BY (its analytic form). */
  orderBy?: Array<{ expr: Expr; desc: boolean }>;
  pos: Position;
}

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '=' | '<>' | '<' | '<=' | '>' | '>=' | 'AND' | 'OR';

export interface Duration {
  unit: string;
  size: number;
  /** Where the unit is written (unit errors point here). */
  pos: Position;
  /** Where the size is written (range errors point here). */
  sizePos: Position;
}

export type WindowSpec =
  | { kind: 'tumbling'; size: Duration; offset: Duration | null; pos: Position }
  | { kind: 'hopping'; size: Duration; hop: Duration; offset: Duration | null; pos: Position }
  | { kind: 'sliding'; size: Duration; pos: Position }
  | { kind: 'session'; timeout: Duration; maxDuration: Duration | null; partitionBy: Expr[]; pos: Position }
  | { kind: 'snapshot'; pos: Position };

export interface SelectItem {
  expr: Expr;
  alias: string | null;
  pos: Position;
}

export interface TimestampBy {
  expr: Expr;
  over: Expr[];
  pos: Position;
}

/** `FROM a [TIMESTAMP BY …] [INNER | LEFT [OUTER]] JOIN b [TIMESTAMP BY …] ON cond`. */
export interface JoinClause {
  kind: 'inner' | 'left';
  right: { name: string; alias: string | null; pos: Position };
  rightTimestampBy: TimestampBy | null;
  on: Expr;
  pos: Position;
}

export interface SelectStatement {
  items: SelectItem[];
  into: string | null;
  from: { name: string; alias: string | null; pos: Position };
  /** The FROM input's (with a JOIN: the left side's). */
  timestampBy: TimestampBy | null;
  join: JoinClause | null;
  /** Further SELECTs joined with UNION: their rows go where this one's do (ASA's UNION keeps every row). */
  union: SelectStatement[];
  /** `CROSS APPLY GetArrayElements(x) AS e` / `GetRecordProperties(x) AS p`: one row per element. */
  apply: { fn: 'GETARRAYELEMENTS' | 'GETRECORDPROPERTIES'; arg: Expr; alias: string; pos: Position } | null;
  where: Expr | null;
  /** `windows`: ASA's Windows(…) — several windows in one GROUP BY, each with an optional id; `window` is then the first. */
  groupBy: { keys: Expr[]; window: WindowSpec | null; windows: Array<{ id: string | null; spec: WindowSpec }>; pos: Position } | null;
  having: Expr | null;
  pos: Position;
}

export interface WithStep {
  name: string;
  select: SelectStatement;
  pos: Position;
}

export interface QueryAst {
  steps: WithStep[];
  selects: SelectStatement[];
}
