/**
 * Ids a caller chooses for what it registers (extension, version, install), so an operator can
 * mirror another registry — Alga's, whose ids are UUIDs — and its callers reach the install by
 * the ids they already send. README "HTTP API" and docs/alga.md document the pattern.
 */
import { z } from 'zod';

/** 1-128 characters: letters, digits, `.`, `_`, `:`, `-`, starting with a letter or digit (a UUID fits). */
export const CHOSEN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const chosenId = z.string().regex(CHOSEN_ID_PATTERN, '1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit (a UUID fits)');
