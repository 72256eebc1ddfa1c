import type { InputFilter } from '../analytics/index.js';

/**
 * A named input of the configuration (`analytics.inputs`): readings of these sources and/or
 * points. Not by driver: a journal entry does not record which driver read it.
 */
export interface InputSelection {
  sources?: string[] | undefined;
  points?: string[] | undefined;
}

/** The engine's filter for one selection; with both lists, a reading must be in both. */
export function inputFilter(selection: InputSelection): InputFilter {
  const sources = selection.sources ? new Set(selection.sources) : null;
  const points = selection.points ? new Set(selection.points) : null;
  return (ev) => (sources === null || (typeof ev.source === 'string' && sources.has(ev.source))) && (points === null || (typeof ev.point === 'string' && points.has(ev.point)));
}

export function inputFilters(inputs: Record<string, InputSelection>): Record<string, InputFilter> {
  return Object.fromEntries(Object.entries(inputs).map(([name, sel]) => [name, inputFilter(sel)]));
}
