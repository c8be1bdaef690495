// Entry of the server's worker threads (the plan checker, the feed's wire): TypeScript is loaded
// through tsx here (a worker does not inherit the main thread's loader hooks), then the module
// named by workerData.entry runs.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
