import type { InputFilter } from '../analytics/index.js';

/**
 * A named input of the configuration (`analytics.inputs`): readings of these drivers, sources
 * and/or points (the intake records in each journal entry which driver read it).
 */
export interface InputSelection {
  drivers?: string[] | undefined;
  sources?: string[] | undefined;
  points?: string[] | undefined;
}

/** The engine's filter for one selection; with several lists, a reading must be in each. */
export function inputFilter(selection: InputSelection): InputFilter {
  const lists = (['driver', 'source', 'point'] as const).flatMap((field) => {
    const names = selection[`${field}s`];
    return names ? [{ field, names: new Set(names) }] : [];
  });
  return (ev) => lists.every(({ field, names }) => typeof ev[field] === 'string' && names.has(ev[field]));
}

export function inputFilters(inputs: Record<string, InputSelection>): Record<string, InputFilter> {
  return Object.fromEntries(Object.entries(inputs).map(([name, sel]) => [name, inputFilter(sel)]));
}
