// Entry of the plan checker's worker thread: TypeScript is loaded through tsx here (a worker does
// not inherit the main thread's loader hooks), then the worker module runs.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
