// The plan checker's worker thread: parses a plan's text (JSON or YAML) and validates it, away
// from the event loop that serves the meeting. One job at a time; the main thread kills the
// thread when a job takes too long or the thread runs out of its memory.
import { parentPort } from 'node:worker_threads';
import { parse as parseYaml } from 'yaml';
import { parsePlan } from '../../protocol/plan.ts';
import type { PlanJob, PlanVerdict } from './PlanChecker.ts';

/** Parses and validates one plan text; never throws. */
function check(job: PlanJob): PlanVerdict {
  const text = job.text.replace(/^\uFEFF/, '');
  let raw: unknown;
  try {
    // YAML 1.2 core schema (the library default): 2021-11-26 and 07:30 stay strings; 100 aliases at most (no "billion laughs").
    raw = job.format === 'json' ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100, logLevel: 'error' });
  } catch (error) {
    const message = error instanceof RangeError ? 'nested too deeply' : (error as Error)?.message ?? String(error);
    if (job.format === 'json') return { ok: false, code: 'malformed_json', message: `the body is not valid JSON: ${message.slice(0, 200)}` };
    return { ok: false, code: 'invalid_plan', errors: [{ path: '', message: `Tệp YAML không hợp lệ: ${message.slice(0, 300)}` }] };
  }
  try {
    const result = parsePlan(raw);
    return result.ok ? { ok: true, plan: result.plan } : { ok: false, code: 'invalid_plan', errors: result.errors.slice(0, 200) };
  } catch (error) {
    // A structure the schemas cannot even walk (nested too deeply for the stack).
    return { ok: false, code: 'invalid_plan', errors: [{ path: '', message: `Kế hoạch không đọc được: ${String((error as Error)?.message ?? error).slice(0, 200)}` }] };
  }
}

parentPort!.on('message', (job: PlanJob) => {
  parentPort!.postMessage({ id: job.id, verdict: check(job) });
});
