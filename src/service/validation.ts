/** Schema validation at the HTTP boundary: every problem listed, as an `invalid_request` error. */
import type { z } from 'zod';
import { ServiceError } from './errors.js';

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw new ServiceError('invalid_request', problems.map((p) => `${p.path}: ${p.message}`).join('; '), { problems });
}
