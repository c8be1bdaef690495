// Reading a conference plan written by the council office as JSON or YAML.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parsePlan, PlanError, type ConferencePlan } from '../server/protocol/plan.ts';

export { PlanError } from '../server/protocol/plan.ts';

/** File extensions loadPlanFile understands. */
export const PLAN_FILE_EXTENSIONS = ['.json', '.yaml', '.yml'] as const;

function unsupportedFile(fileName: string): PlanError {
  return new PlanError(
    [{ path: '', message: `Không đọc được tệp "${fileName}": chỉ hỗ trợ ${PLAN_FILE_EXTENSIONS.join(', ')}` }],
    fileName,
  );
}

/** Parses the text of a plan file by extension; throws PlanError on bad syntax or an invalid plan. */
export function parsePlanText(text: string, fileName: string): ConferencePlan {
  const ext = extname(fileName).toLowerCase();
  const body = text.replace(/^\uFEFF/, ''); // editors on Windows often save a BOM
  let raw: unknown;
  if (ext === '.json') {
    try {
      raw = JSON.parse(body);
    } catch (err) {
      throw new PlanError([{ path: '', message: `Tệp JSON không hợp lệ: ${(err as Error).message}` }], fileName);
    }
  } else if (ext === '.yaml' || ext === '.yml') {
    try {
      // YAML 1.2 core schema (the library default): 2021-11-26 and 07:30 stay strings.
      raw = parseYaml(body);
    } catch (err) {
      throw new PlanError([{ path: '', message: `Tệp YAML không hợp lệ: ${(err as Error).message}` }], fileName);
    }
  } else {
    throw unsupportedFile(fileName);
  }
  const result = parsePlan(raw);
  if (!result.ok) throw new PlanError(result.errors, fileName);
  return result.plan;
}

/** Reads and validates a plan file (.json, .yaml, .yml); throws PlanError listing every wrong field. */
export async function loadPlanFile(path: string): Promise<ConferencePlan> {
  const ext = extname(path).toLowerCase();
  if (!(PLAN_FILE_EXTENSIONS as readonly string[]).includes(ext)) throw unsupportedFile(path);
  return parsePlanText(await readFile(path, 'utf8'), path);
}
