// JSON encoding of stored conferences, shared by the stores so both keep exactly the same data.
import type { ConferenceConfig, ConferenceState, LogEntry } from '../core/conference/index.ts';
import type { StoreWrite } from './ConferenceStore.ts';
import { StoreError } from './errors.ts';
import type { TokenRecord } from './TokenStore.ts';

/** The state without its configuration and log, as written on every command. */
export function encodeState(state: ConferenceState): string {
  const { config: _config, log: _log, ...rest } = state;
  return JSON.stringify(rest);
}

/** The configuration, written once when the conference is created. */
export function encodeConfig(state: ConferenceState): string {
  return JSON.stringify(state.config);
}

/**
 * The last configuration decoded per conference. It is written once, and a national plan's is
 * about a megabyte of JSON: a store that reloads the state after every write by another process
 * parses the state alone when the configuration's text is the one it decoded last. States
 * decoded with one cache share the configuration object (the core never changes it).
 */
export class ConfigCache {
  readonly #last = new Map<string, { json: string; config: ConferenceConfig }>();

  /** The configuration of this text, parsed only when the text differs from the last one seen. */
  decode(conferenceId: string, json: string): ConferenceConfig {
    const last = this.#last.get(conferenceId);
    if (last?.json === json) return last.config;
    const config = upgradeConfig(JSON.parse(json));
    this.#last.set(conferenceId, { json, config });
    return config;
  }

  /** Forgets a conference's configuration (dropped). */
  forget(conferenceId: string): void {
    this.#last.delete(conferenceId);
  }
}

/** Rebuilds a state from its stored parts; the log comes back empty (it is read with readLog). */
export function decodeState(conferenceId: string, stateJson: string, configJson: string, configs?: ConfigCache): ConferenceState {
  try {
    const rest = JSON.parse(stateJson) as Omit<ConferenceState, 'config' | 'log'>;
    const config = configs ? configs.decode(conferenceId, configJson) : upgradeConfig(JSON.parse(configJson));
    if (rest?.schema !== 1 || !Array.isArray(config?.bridges)) throw new Error('unknown schema');
    return { ...rest, config, log: [] };
  } catch (error) {
    throw new StoreError('corrupt', `stored state unreadable [conferenceId:${conferenceId}]`, { cause: error });
  }
}

/** A stored configuration as the core reads it now: configurations stored before the rename keep the agenda under `programme`. */
function upgradeConfig(stored: unknown): ConferenceConfig {
  const config = stored as ConferenceConfig & { programme?: ConferenceConfig['agenda'] };
  if (config && !Array.isArray(config.agenda) && Array.isArray(config.programme)) {
    const { programme, ...rest } = config;
    return { ...rest, agenda: programme };
  }
  return config;
}

/** Checks that a write's log continues the state's numbering: entries end at state.seq, without gaps. */
export function checkWrite(conferenceId: string, write: StoreWrite): void {
  const { state, log } = write;
  const consecutive = log.every((e, i) => e.seq === state.seq - log.length + 1 + i);
  if (!consecutive) throw new StoreError('log_gap', `log entries do not end at the state's seq [conferenceId:${conferenceId}, seq:${state.seq}]`);
}

/** One log entry as stored. */
export function encodeLogEntry(entry: LogEntry): string {
  return JSON.stringify(entry);
}

/** One stored log entry. */
export function decodeLogEntry(conferenceId: string, json: string): LogEntry {
  try {
    return JSON.parse(json) as LogEntry;
  } catch (error) {
    throw new StoreError('corrupt', `stored log entry unreadable [conferenceId:${conferenceId}]`, { cause: error });
  }
}

/** A token record as stored. */
export function encodeToken(record: TokenRecord): string {
  return JSON.stringify(record);
}

/** One stored token record. */
export function decodeToken(conferenceId: string, json: string): TokenRecord {
  try {
    return JSON.parse(json) as TokenRecord;
  } catch (error) {
    throw new StoreError('corrupt', `stored token unreadable [conferenceId:${conferenceId}]`, { cause: error });
  }
}
