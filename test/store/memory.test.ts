// The memory store against the shared conformance suite.
import { MemoryStore } from '../../providers/store/memory.js';
import { conformance } from './conformance.js';

conformance('memory', async (clock) => new MemoryStore({ now: clock.now, sweepIntervalMs: 0 }));
