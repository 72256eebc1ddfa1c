import { isIPv4, isIPv6 } from 'node:net';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * A validator as cloud tooling would build one from our schema. Strict, so that a keyword ajv
 * does not know or a type it cannot check fails the compile; `required` names inside if/not need
 * no local `properties` (strictRequired off). The formats the schema uses are checked as the
 * agent checks them (ajv ships none; tooling adds ajv-formats, which agrees on these two).
 */
export function compileSchema(schema: object): ValidateFunction {
  return new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true, formats: { ipv4: isIPv4, ipv6: isIPv6 } }).compile(schema);
}
